import { access } from 'node:fs/promises';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from './nats.js';

describe('startNatsServer', () => {
  let server: NatsServerHandle;

  beforeAll(async () => {
    server = await startNatsServer();
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('runs JetStream, and stream data survives a hard kill and restart', async () => {
    const nc = await connect({ servers: server.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'DEVSERVERS', subjects: ['devservers.>'] });
    const js = jetstream(nc);
    const ack = await js.publish('devservers.hello', 'world');
    expect(ack.seq).toBe(1);
    await nc.close();

    await server.kill();
    await server.restart();

    const nc2 = await connect({ servers: server.url });
    const jsm2 = await jetstreamManager(nc2);
    const info = await jsm2.streams.info('DEVSERVERS');
    expect(info.state.messages).toBe(1);
    const stored = await jsm2.streams.getMessage('DEVSERVERS', { seq: 1 });
    expect(stored?.string()).toBe('world');
    await nc2.close();
  });

  it('removes its temporary store dir on stop', async () => {
    const other = await startNatsServer();
    expect(other.port).not.toBe(server.port);
    await other.stop();
    await expect(access(other.storeDir)).rejects.toThrow();
  });
});
