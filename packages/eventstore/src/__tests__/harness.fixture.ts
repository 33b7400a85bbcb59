/** Wiring shared by the event store's integration tests: a NATS connection, a store and a data source per file. */
import { useTestEnvironment, type TestEnvironment, type TestEnvironmentOptions } from '@tessera/testkit';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { DataSource } from 'typeorm';
import { EventStore } from '../event-store.js';
import { eventStoreMigrations } from '../consumers/migrations.js';
import { counterRegistry, counterTotalsDdl, counterUpcasters } from './counter.fixture.js';
import { type Clock } from '@tessera/contracts';

export interface Harness {
  env: TestEnvironment;
  nc: NatsConnection;
  store: EventStore;
  dataSource: DataSource;
  close(): Promise<void>;
}

export async function openDataSource(databaseUrl: string, schema: string): Promise<DataSource> {
  const dataSource = new DataSource({
    type: 'postgres',
    url: databaseUrl,
    schema,
    migrations: eventStoreMigrations,
    migrationsRun: true,
    extra: { options: `-c search_path=${schema}` },
  });
  await dataSource.initialize();
  await dataSource.query(counterTotalsDdl);
  return dataSource;
}

export async function openHarness(
  options: {
    clock?: Clock;
    withDatabase?: boolean;
    servers?: TestEnvironmentOptions;
    streamReplicas?: number;
  } = {},
): Promise<Harness> {
  const env = await useTestEnvironment(options.servers);
  // Reconnect for ever: fault tests restart the server under a live connection.
  const nc = await connect({
    ...env.natsConnectionOptions,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 100,
  });
  const store = new EventStore({
    connection: nc,
    registry: counterRegistry,
    upcasters: counterUpcasters,
    namespace: env.namespace,
    defaultActor: 'service:test',
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.streamReplicas ? { streams: { replicas: options.streamReplicas } } : {}),
  });
  await store.ensureStreams();
  const dataSource =
    options.withDatabase === false ? undefined : await openDataSource(env.databaseUrl, env.schema);
  return {
    env,
    nc,
    store,
    dataSource: dataSource as DataSource,
    async close() {
      await dataSource?.destroy();
      await nc.drain();
      await env.cleanup();
    },
  };
}
