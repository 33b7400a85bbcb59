import { jetstreamManager } from '@nats-io/jetstream';
import { connect, nkeyAuthenticator, type ConnectionOptions } from '@nats-io/transport-node';
import {
  createNatsIdentityKeys,
  createNatsUserKey,
  natsAuthorization,
  publicKeysOf,
  startNatsCluster,
  startNatsServer,
  startPostgres,
  type NatsClusterHandle,
  type NatsIdentityKeys,
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
  /**
   * Start a nats-server for this file alone that enforces the NATS permissions table (for this
   * file's namespace): every identity gets a key pair in {@link TestEnvironment.natsKeys}, and a
   * client without one is refused. The run's shared server has no authorization, and cannot have
   * it: each file's namespace prefixes stream names (`<ns>_BILLING`), and a permission cannot
   * wildcard part of a name, so one config cannot grant "BILLING of any namespace".
   */
  natsAuthorization?: boolean;
  /** Start a JetStream cluster of this many nodes for this file alone (failover tests). */
  natsCluster?: number;
  /** Start a Postgres for this file alone (for fault tests), like `dedicatedNats`. */
  dedicatedPostgres?: boolean;
}

/** What one test file gets: servers, and names nobody else in the run uses. */
export interface TestEnvironment {
  /** The NATS server(s): for a cluster, every node's URL, comma-separated (what `NATS_URL` takes). */
  natsUrl: string;
  /**
   * Options for the test's own connections: the servers, plus (with `natsAuthorization`) an
   * unrestricted nkey, so the test can inspect every stream like an administrator.
   */
  natsConnectionOptions: Pick<ConnectionOptions, 'servers' | 'authenticator'>;
  /** Set with `natsAuthorization`: each identity's seed and public key. */
  natsKeys: NatsIdentityKeys | undefined;
  /** Set with `natsCluster`: the nodes, for `kill()`, `restart()` and `streamLeader()`. */
  natsCluster: NatsClusterHandle | undefined;
  /** The `tessera` database; tables belong in {@link schema}. */
  databaseUrl: string;
  /** `databaseUrl` with `search_path` set to {@link schema}, for ORMs that take only a URL. */
  databaseUrlWithSchema: string;
  /** A Postgres schema created for this file, e.g. `t_k3j9x0a1bc`. */
  schema: string;
  /** Prefix for this file's subjects, streams, consumers and buckets (letters and digits), e.g. `tk3j9x0a1bc`. */
  namespace: string;
  /** Set with `dedicatedNats` or `natsAuthorization`: the file's own server, for `kill()` and `restart()`. */
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

async function deleteStreams(
  connectionOptions: Pick<ConnectionOptions, 'servers' | 'authenticator'>,
  namespace: string,
): Promise<void> {
  const nc = await connect(connectionOptions);
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

  const natsKeys = options.natsAuthorization ? createNatsIdentityKeys() : undefined;
  const harnessKey = options.natsAuthorization ? createNatsUserKey() : undefined;
  const authorization =
    natsKeys && harnessKey
      ? natsAuthorization({
          keys: { publicKeys: publicKeysOf(natsKeys) },
          namespace,
          unrestrictedPublicKeys: [harnessKey.publicKey],
        })
      : undefined;
  const dedicatedServer = options.dedicatedNats || (authorization !== undefined && !options.natsCluster);

  const [natsServer, natsCluster, postgres] = await Promise.all([
    dedicatedServer ? startNatsServer(authorization ? { authorization } : {}) : undefined,
    options.natsCluster
      ? startNatsCluster({
          nodes: options.natsCluster,
          ...(authorization && harnessKey
            ? { authorization, connectionOptions: { authenticator: authenticatorFor(harnessKey.seed) } }
            : {}),
        })
      : undefined,
    options.dedicatedPostgres ? startPostgres({ fastUnsafe: true }) : undefined,
  ]);
  const natsUrl = natsCluster?.url ?? natsServer?.url ?? sharedUrl('tessera.natsUrl', 'NATS_URL');
  const databaseUrl = postgres?.url ?? sharedUrl('tessera.databaseUrl', 'DATABASE_URL');
  const natsConnectionOptions = {
    servers: natsUrl.split(','),
    ...(harnessKey ? { authenticator: authenticatorFor(harnessKey.seed) } : {}),
  };

  await withClient(databaseUrl, (client) => client.query(`CREATE SCHEMA "${schema}"`));

  const withSchema = new URL(databaseUrl);
  withSchema.searchParams.set('options', `-c search_path=${schema}`);

  return {
    natsUrl,
    databaseUrl,
    databaseUrlWithSchema: withSchema.toString(),
    schema,
    namespace,
    natsConnectionOptions,
    natsKeys,
    natsServer,
    natsCluster,
    postgres,
    async cleanup() {
      // A dedicated server takes its data with it; on a shared one, remove only what is ours.
      await Promise.all([
        postgres
          ? postgres.stop()
          : withClient(databaseUrl, (client) => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)),
        natsCluster?.stop(),
        natsServer?.stop(),
        natsServer || natsCluster ? undefined : deleteStreams(natsConnectionOptions, namespace),
      ]);
    },
  };
}

function authenticatorFor(seed: string): ConnectionOptions['authenticator'] {
  return nkeyAuthenticator(new TextEncoder().encode(seed));
}
