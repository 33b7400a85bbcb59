import { Writable } from 'node:stream';
import { Controller, Module, type INestApplication } from '@nestjs/common';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { defineRpc, EventRegistry, type RpcParsedRequestOf, type RpcResponseOf } from '@tessera/contracts';
import { eventually, useTestEnvironment, type TestEnvironment } from '@tessera/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MessagingConfig } from '../config/define-config.js';
import { HealthRegistry } from '../health/health-registry.js';
import { createApp } from '../lifecycle/create-app.js';
import { MessagingModule } from './messaging.module.js';
import { PlatformModule } from '../platform.module.js';
import { RpcClient } from '../rpc/rpc-client.js';
import { RpcHandler } from '../rpc/rpc-handler.decorator.js';

const Settle = defineRpc({
  subject: 'rpc.billing.settle',
  request: z.object({ amount: z.string() }),
  response: z.object({ settled: z.string() }),
});

/** Records when the slow handler finished, to compare with when the app finished closing. */
const timeline: string[] = [];

@Controller()
class SettlementRpc {
  @RpcHandler(Settle)
  async settle(request: RpcParsedRequestOf<typeof Settle>): Promise<RpcResponseOf<typeof Settle>> {
    timeline.push('handler started');
    await new Promise((resolve) => setTimeout(resolve, 700));
    timeline.push('handler finished');
    return { settled: request.amount };
  }
}

const silent = new Writable({ write: (_chunk, _encoding, done) => done() });

function appModule(env: TestEnvironment, databaseSchema: string): unknown {
  @Module({
    imports: [
      PlatformModule.forRoot({
        config: MessagingConfig,
        env: {
          SERVICE_NAME: 'billing',
          NATS_URL: env.natsUrl,
          NATS_SUBJECT_PREFIX: env.namespace,
          DATABASE_URL: env.databaseUrl,
          DATABASE_SCHEMA: databaseSchema,
          HTTP_PORT: '0',
          SHUTDOWN_GRACE_MS: '5000',
        },
        logging: { destination: silent },
        database: { entities: [] },
      }),
      MessagingModule.forRoot({ registry: new EventRegistry(), ensureStreams: false }),
    ],
    controllers: [SettlementRpc],
  })
  class AppModule {}
  return AppModule;
}

describe('platform and messaging modules in a Nest app', () => {
  let env: TestEnvironment;
  let app: INestApplication;
  let baseUrl: string;
  let callerConnection: NatsConnection;
  let caller: RpcClient;
  const databaseSchema = `svc_${Math.random().toString(36).slice(2, 10)}`;

  beforeAll(async () => {
    env = await useTestEnvironment();
    app = await createApp(appModule(env, databaseSchema), { logger: false });
    await app.listen(0, '127.0.0.1');
    baseUrl = await app.getUrl();
    callerConnection = await connect({ servers: env.natsUrl });
    caller = new RpcClient(callerConnection, { subjectPrefix: env.namespace });
  });

  afterAll(async () => {
    await callerConnection.close();
    const client = new pg.Client({ connectionString: env.databaseUrl });
    await client.connect();
    await client.query(`drop schema if exists "${databaseSchema}" cascade`);
    await client.end();
    await env.cleanup();
  });

  it('creates the service schema and reports live and ready with each indicator', async () => {
    const live = await fetch(`${baseUrl}/health/live`);
    expect(live.status).toBe(200);

    const ready = await fetch(`${baseUrl}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      ready: true,
      indicators: { nats: { up: true }, database: { up: true } },
    });

    const client = new pg.Client({ connectionString: env.databaseUrl });
    await client.connect();
    const { rowCount } = await client.query(
      'select 1 from information_schema.schemata where schema_name = $1',
      [databaseSchema],
    );
    await client.end();
    expect(rowCount).toBe(1);
  });

  it('turns not ready (503) while an indicator is down', async () => {
    const registry = app.get(HealthRegistry);
    let consumerStalled = true;
    registry.register({
      name: 'consumer:balances',
      check: async () => ({ up: !consumerStalled, detail: consumerStalled ? 'stalled' : undefined }),
    });

    const down = await fetch(`${baseUrl}/health/ready`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({
      ready: false,
      indicators: { 'consumer:balances': { up: false, detail: 'stalled' } },
    });

    consumerStalled = false;
    expect((await fetch(`${baseUrl}/health/ready`)).status).toBe(200);
    registry.unregister('consumer:balances');
  });

  it('serves @RpcHandler methods and, on shutdown, turns not ready and answers in-flight requests before closing', async () => {
    const inFlight = caller.call(Settle, { amount: '42' }, { timeoutMs: 5_000 });
    await eventually(() => timeline.includes('handler started'), 'the handler started', {
      intervalMs: 10,
      timeoutMs: 5_000,
    });

    const closed = app.close().then(() => timeline.push('app closed'));
    await eventually(() => app.get(HealthRegistry).isShuttingDown, 'shutting down', {
      intervalMs: 10,
      timeoutMs: 5_000,
    });
    // The HTTP server stays up while draining, so probes see the instance leave the pool.
    expect((await fetch(`${baseUrl}/health/ready`)).status).toBe(503);

    await expect(inFlight).resolves.toEqual({ settled: '42' });
    await closed;
    expect(timeline).toEqual(['handler started', 'handler finished', 'app closed']);

    // After the drain nobody serves the subject any more.
    await expect(caller.call(Settle, { amount: '1' }, { timeoutMs: 1_000 })).rejects.toMatchObject({
      code: 'NO_RESPONDERS',
    });
  });
});
