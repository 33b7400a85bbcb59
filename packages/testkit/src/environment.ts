import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import {
  startNatsServer,
  startPostgres,
  type NatsServerHandle,
  type PostgresHandle,
} from '@tessera/devservers';
import pg from 'pg';
import { inject } from 'vitest';
import './provided-context.js';
import { randomToken } from './random.js';

/** Options for {@link useTestEnvironment}. */
export interface TestEnvironmentOptions {
  /**
   * Start a nats-server for this file alone, so the test can `kill()`/`restart()` it
   * without breaking other files that share the run's server.
   */
  dedicatedNats?: boolean;
  /** Start a Postgres for this file alone (for fault tests), like `dedicatedNats`. */
  dedicatedPostgres?: boolean;
}

/** What one test file gets: servers, and names nobody else in the run uses. */
export interface TestEnvironment {
  natsUrl: string;
  /** The `tessera` database; tables belong in {@link schema}. */
  databaseUrl: string;
  /** `databaseUrl` with `search_path` set to {@link schema}, for ORMs that take only a URL. */
  databaseUrlWithSchema: string;
  /** A Postgres schema created for this file, e.g. `t_k3j9x0a1bc`. */
  schema: string;
  /** Prefix for this file's subjects, streams, consumers and buckets (letters and digits), e.g. `tk3j9x0a1bc`. */
  namespace: string;
  /** Set with `dedicatedNats`: the file's own server, for `kill()` and `restart()`. */
  natsServer: NatsServerHandle | undefined;
  /** Set with `dedicatedPostgres`: the file's own server, for `kill()` and `restart()`. */
  postgres: PostgresHandle | undefined;
  /** Drops the schema, deletes this file's streams, stops dedicated servers. Call in `afterAll`. */
  cleanup(): Promise<void>;
}

function sharedUrl(key: 'tessera.natsUrl' | 'tessera.databaseUrl', envName: string): string {
  // inject() gives undefined when the config has no global setup; a plain env var still works then.
  const provided = inject(key);
  const url = provided !== undefined && provided !== '' ? provided : process.env[envName];
  if (url === undefined || url === '') {
    throw new Error(
      `No ${envName}: add globalSetup: ['@tessera/testkit/global-setup'] to this package's vitest.config.ts, or set ${envName}.`,
    );
  }
  return url;
}

async function withClient<T>(databaseUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Whether a JetStream stream was made by the file that owns `namespace` (KV and object store buckets included). */
function belongsTo(streamName: string, namespace: string): boolean {
  const name = streamName.toLowerCase();
  return (
    name.startsWith(namespace) || name.startsWith(`kv_${namespace}`) || name.startsWith(`obj_${namespace}`)
  );
}

async function deleteStreams(natsUrl: string, namespace: string): Promise<void> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    const names: string[] = [];
    for await (const name of jsm.streams.names()) names.push(name);
    for (const name of names.filter((n) => belongsTo(n, namespace))) await jsm.streams.delete(name);
  } finally {
    await nc.close();
  }
}

/**
 * Gives a test file its own corner of the run's NATS and Postgres. Call in `beforeAll`:
 *
 *   let env: TestEnvironment;
 *   beforeAll(async () => { env = await useTestEnvironment(); });
 *   afterAll(() => env.cleanup());
 */
export async function useTestEnvironment(options: TestEnvironmentOptions = {}): Promise<TestEnvironment> {
  const token = randomToken();
  const schema = `t_${token}`;
  const namespace = `t${token}`;

  const [natsServer, postgres] = await Promise.all([
    options.dedicatedNats ? startNatsServer() : undefined,
    options.dedicatedPostgres ? startPostgres({ fastUnsafe: true }) : undefined,
  ]);
  const natsUrl = natsServer?.url ?? sharedUrl('tessera.natsUrl', 'NATS_URL');
  const databaseUrl = postgres?.url ?? sharedUrl('tessera.databaseUrl', 'DATABASE_URL');

  await withClient(databaseUrl, (client) => client.query(`CREATE SCHEMA "${schema}"`));

  const withSchema = new URL(databaseUrl);
  withSchema.searchParams.set('options', `-c search_path=${schema}`);

  return {
    natsUrl,
    databaseUrl,
    databaseUrlWithSchema: withSchema.toString(),
    schema,
    namespace,
    natsServer,
    postgres,
    async cleanup() {
      // A dedicated server takes its data with it; on a shared one, remove only what is ours.
      await Promise.all([
        postgres
          ? postgres.stop()
          : withClient(databaseUrl, (client) => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)),
        natsServer ? natsServer.stop() : deleteStreams(natsUrl, namespace),
      ]);
    },
  };
}
