import { readFileSync } from 'node:fs';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseNatsServerVersion, startNatsServer, type NatsServerHandle } from './nats.js';

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

    const firstPid = server.pid();
    expect(readFileSync(`/proc/${firstPid}/cmdline`, 'utf8')).toContain('nats-server');
    await server.kill();
    expect(server.pid()).toBeUndefined();
    await server.restart();
    expect(server.pid()).not.toBe(firstPid);
    expect(readFileSync(`/proc/${server.pid()}/cmdline`, 'utf8')).toContain('nats-server');

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

  it('reads the version nats-server prints', () => {
    expect(parseNatsServerVersion('nats-server: v2.10.27\n')).toEqual({ major: 2, minor: 10, patch: 27 });
    expect(() => parseNatsServerVersion('nats-server: unknown')).toThrow(/cannot read/);
  });
});

describe('findNatsServer', () => {
  const originalPath = process.env['PATH'];
  let fakeBin: string;

  beforeAll(async () => {
    // A stand-in that reports the Debian 12 package's version.
    fakeBin = await mkdtemp(join(tmpdir(), 'tessera-fake-nats-'));
    await writeFile(join(fakeBin, 'nats-server'), '#!/bin/sh\necho "nats-server: v2.9.10"\n', {
      mode: 0o755,
    });
  });

  afterAll(async () => {
    process.env['PATH'] = originalPath;
    await rm(fakeBin, { recursive: true, force: true });
  });

  it('refuses nats-server 2.9 and says how to install 2.10', async () => {
    process.env['PATH'] = `${fakeBin}:${originalPath ?? ''}`;
    try {
      await expect(startNatsServer()).rejects.toThrow(
        /nats-server 2\.9\.10; Tessera needs 2\.10 or newer\..*trixie/,
      );
    } finally {
      process.env['PATH'] = originalPath;
    }
  });
});
