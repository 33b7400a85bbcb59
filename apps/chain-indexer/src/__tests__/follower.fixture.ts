/** A Follower wired to real servers, in this process (fault tests drive it directly). */
import { ApiPromise, WsProvider } from '@polkadot/api';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { EventRegistry, eventContracts } from '@tessera/contracts';
import { EventStore } from '@tessera/eventstore';
import { pino } from 'pino';
import { DataSource } from 'typeorm';
import { chainIndexerMigrations } from '../database/schema.migration.js';
import { tablesIn } from '../database/tables.js';
import { type BlockSource } from '../follower/block-source.js';
import { Follower, type FollowerOptions } from '../follower/follower.js';

export interface FollowerFixtureOptions {
  natsUrl: string;
  databaseUrl: string;
  schema: string;
  namespace: string;
  endpoint: string;
  follower: Omit<FollowerOptions, 'netuids' | 'ss58Format'> & { netuids?: number[] };
  /** Addresses whose incoming transfers become facts. */
  watched?: readonly string[];
  /** Wraps the real block source (fault tests serve a wrong block). */
  source?: (api: ApiPromise) => BlockSource;
}

export interface FollowerFixture {
  follower: Follower;
  api: ApiPromise;
  dataSource: DataSource;
  nc: NatsConnection;
  close(): Promise<void>;
}

export async function openFollower(options: FollowerFixtureOptions): Promise<FollowerFixture> {
  const watched = new Set(options.watched ?? []);
  const dataSource = new DataSource({
    type: 'postgres',
    url: options.databaseUrl,
    schema: options.schema,
    migrations: chainIndexerMigrations,
  });
  await dataSource.initialize();
  await dataSource.runMigrations();
  const nc = await connect({ servers: options.natsUrl });
  const store = new EventStore({
    connection: nc,
    registry: new EventRegistry(eventContracts),
    namespace: options.namespace,
  });
  await store.ensureStreams();
  const api = await ApiPromise.create({
    provider: new WsProvider(options.endpoint),
    noInitWarn: true,
    signedExtensions: {
      SubtensorSignedExtension: { extrinsic: {}, payload: {} },
      CommitmentsSignedExtension: { extrinsic: {}, payload: {} },
    },
  });
  const follower = new Follower(
    {
      api,
      store,
      dataSource,
      tables: tablesIn(options.schema),
      // A fixed set: these tests are about blocks and the cursor, not the billing projection.
      watch: { isWatched: (address) => watched.has(address), catchUp: () => Promise.resolve() },
      log: pino({ level: process.env['INDEXER_TEST_LOG'] === '1' ? 'debug' : 'silent' }),
      ...(options.source ? { source: options.source(api) } : {}),
    },
    { netuids: [], ss58Format: 42, ...options.follower },
  );
  return {
    follower,
    api,
    dataSource,
    nc,
    async close() {
      await follower.stop();
      await api.disconnect().catch(() => undefined);
      await nc.drain().catch(() => undefined);
      await dataSource.destroy();
    },
  };
}
