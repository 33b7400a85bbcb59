import { Writable } from 'node:stream';
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { EventRegistry, allStreams } from '@tessera/contracts';
import { EventStore } from '@tessera/eventstore';
import { useTestEnvironment, type TestEnvironment } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MessagingConfig } from '../config/define-config.js';
import { MessagingModule } from '../messaging/messaging.module.js';
import { PlatformModule } from '../platform.module.js';

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
            HTTP_PORT: '0',
          },
          logging: { destination: new Writable({ write: (_chunk, _encoding, done) => done() }) },
        }),
        MessagingModule.forRoot({ registry: new EventRegistry() }),
      ],
    })
    class AppModule {}
    app = await NestFactory.create(AppModule, { logger: false });
    await app.init();
  });

  afterAll(async () => {
    await app.close();
    await env.cleanup();
  });

  it('provides an EventStore in the configured namespace and creates its streams at start-up', async () => {
    expect(app.get(EventStore)).toBeInstanceOf(EventStore);
    const connection = await connect({ servers: env.natsUrl });
    try {
      const jsm = await jetstreamManager(connection);
      const names: string[] = [];
      for await (const name of jsm.streams.names()) names.push(name);
      const ours = names.filter((name) => name.toLowerCase().startsWith(env.namespace.toLowerCase()));
      expect(ours).toHaveLength(allStreams.length);
    } finally {
      await connection.close();
    }
  });
});
