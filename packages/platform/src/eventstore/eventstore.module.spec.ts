import { Writable } from 'node:stream';
import { Module, type INestApplication } from '@nestjs/common';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import {
  EventRegistry,
  Streams,
  TesseraError,
  defineEvent,
  deadLetterContracts,
  streamIdOf,
  type Event,
} from '@tessera/contracts';
import { z } from 'zod';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { EventStore, eventStoreMigrations } from '@tessera/eventstore';
import { RpcClient } from '../rpc/rpc-client.js';
import { useTestEnvironment, type TestEnvironment } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MessagingConfig } from '../config/define-config.js';
import { MessagingModule } from '../messaging/messaging.module.js';
import { createApp } from '../lifecycle/create-app.js';
import { PlatformModule } from '../platform.module.js';
import { ProjectionHost } from './eventstore.module.js';
import { HealthRegistry } from '../health/health-registry.js';

const Noted = defineEvent({
  type: 'billing.ThingNoted',
  version: 1,
  data: z.object({ thing: z.string() }),
});
const Ops = deadLetterContracts('billing');

/** A reactor that refuses things called "bad" — a domain refusal, so they are parked. */
@Injectable()
class Refuser implements OnModuleInit {
  readonly seen: string[] = [];
  constructor(private readonly host: ProjectionHost) {}
  onModuleInit(): void {
    this.host.addReactor({
      name: 'billing-refuser',
      stream: Streams.BILLING,
      handles: [Noted],
      react: async (events: readonly Event[]) => {
        for (const event of events) {
          const thing = (event.data as { thing: string }).thing;
          if (thing === 'bad' && !this.seen.includes('fixed'))
            throw new TesseraError('billing.REFUSED', 'bad thing');
          this.seen.push(thing);
        }
      },
    });
  }
}

describe('EventStoreModule (through MessagingModule)', () => {
  let env: TestEnvironment;
  let app: INestApplication;

  beforeAll(async () => {
    env = await useTestEnvironment();
    @Module({
      imports: [
        PlatformModule.forRoot({
          config: MessagingConfig,
          env: {
            SERVICE_NAME: 'billing',
            NATS_URL: env.natsUrl,
            NATS_SUBJECT_PREFIX: env.namespace,
            DATABASE_URL: env.databaseUrl,
            DATABASE_SCHEMA: env.schema,
            HTTP_PORT: '0',
            CONSUMER_LEASE_TTL_MS: '1000',
          },
          logging: { destination: new Writable({ write: (_chunk, _encoding, done) => done() }) },
          database: { entities: [], migrations: eventStoreMigrations },
        }),
        MessagingModule.forRoot({
          registry: new EventRegistry([Noted]),
          writes: [Streams.BILLING],
          operations: 'billing',
        }),
      ],
      providers: [Refuser],
    })
    class AppModule {}
    app = await createApp(AppModule, { logger: false });
  });

  afterAll(async () => {
    await app.close();
    await env.cleanup();
  });

  it('provides an EventStore in the configured namespace and creates the streams it writes at start-up', async () => {
    expect(app.get(EventStore)).toBeInstanceOf(EventStore);
    const connection = await connect({ servers: env.natsUrl });
    try {
      const jsm = await jetstreamManager(connection);
      const names: string[] = [];
      for await (const name of jsm.streams.names()) names.push(name);
      const ours = names.filter((name) => name.toLowerCase().startsWith(env.namespace.toLowerCase()));
      expect(ours).toEqual([`${env.namespace}_BILLING`]);
    } finally {
      await connection.close();
    }
    const readiness = await app.get(HealthRegistry).readiness();
    expect(readiness.indicators['jetstream']).toMatchObject({ up: true });
  });

  it('serves the dead letters of its consumers to the operator, and re-drives them after a fix', async () => {
    const store = app.get(EventStore);
    const host = app.get(ProjectionHost);
    const rpc = new RpcClient(store.connection, { subjectPrefix: env.namespace });
    const bad = await store.append(streamIdOf('billing', 'thing', 'b'), [Noted.create({ thing: 'bad' })]);
    await store.append(streamIdOf('billing', 'thing', 'g'), [Noted.create({ thing: 'good' })]);
    await host.runner('billing-refuser').waitUntilCaughtUp();
    const listed = await rpc.call(Ops.list, {});
    expect(listed.deadLetters).toEqual([
      expect.objectContaining({
        consumer: 'billing-refuser',
        eventId: bad.events[0]?.id,
        errorCode: 'billing.REFUSED',
      }),
    ]);
    app.get(Refuser).seen.push('fixed');
    const replayed = await rpc.call(Ops.replay, { consumer: 'billing-refuser' });
    expect(replayed).toEqual({ replayed: [listed.deadLetters[0]?.id], failed: [] });
    expect((await rpc.call(Ops.list, { consumer: 'billing-refuser' })).deadLetters).toEqual([]);
    expect(app.get(Refuser).seen).toEqual(['good', 'fixed', 'bad']);
    await expect(rpc.call(Ops.replay, { consumer: 'billing-nothing' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });
});
