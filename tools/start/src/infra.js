// NATS and Postgres for one machine: reuse NATS_URL / DATABASE_URL when given, otherwise start
// local servers through @tessera/devservers with their data under the data directory. A NATS
// started here enforces the permissions table: every identity's nkey seed lives in
// <data dir>/nats-keys/<identity>.nk (0600), the server config holds the public keys.
import { accessSync, constants, mkdirSync, chmodSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { freePort, isPortFree } from './ports.js';

/**
 * @typedef {object} Infrastructure
 * @property {string} natsUrl
 * @property {string} databaseUrl
 * @property {boolean} startedNats   whether this process started nats-server
 * @property {boolean} startedPostgres whether this process started Postgres
 * @property {import('@tessera/devservers').NatsIdentityKeys | undefined} natsKeys
 *   each identity's nkey, when the NATS started here enforces the permissions table
 * @property {string | undefined} natsKeysDir where the seeds are kept (the operator CLI reads its own there)
 * @property {() => Promise<void>} stop stops what this process started: Postgres, then NATS
 */

/**
 * @typedef {object} InfraOptions
 * @property {string} dataDir        parent of `nats/` and `postgres/`
 * @property {string | undefined} natsUrl      use this NATS instead of starting one
 * @property {string | undefined} databaseUrl  use this Postgres instead of starting one
 * @property {{ port: number, explicit: boolean }} natsPort
 * @property {{ port: number, explicit: boolean }} postgresPort
 * @property {boolean} persistent    keep Postgres data between runs
 * @property {boolean} fastUnsafe    fsync off: for throwaway databases only
 * @property {boolean} natsAuthorization  start NATS with the permissions table enforced (npm start);
 *   off for the CI helper, whose one server is shared by every test file's namespace
 * @property {(message: string) => void} log
 */

export class MissingPrerequisiteError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'MissingPrerequisiteError';
  }
}

/**
 * Whether an executable named `name` is on PATH.
 * @param {string} name
 * @returns {boolean}
 */
export function onPath(name) {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/**
 * Picks the port to ask for: an explicit port must be free; a busy default falls back to a free one.
 * @param {string} what
 * @param {string} envName
 * @param {{ port: number, explicit: boolean }} wanted
 * @param {(message: string) => void} log
 * @returns {Promise<number | undefined>} undefined lets devservers choose
 */
async function choosePort(what, envName, wanted, log) {
  if (wanted.port === 0) return undefined;
  if (await isPortFree(wanted.port)) return wanted.port;
  if (wanted.explicit) {
    throw new MissingPrerequisiteError(
      `${what}: port ${wanted.port} (${envName}) is already in use; choose another ${envName} or point to a running server`,
    );
  }
  const port = await freePort();
  log(`${what}: default port ${wanted.port} is busy, using ${port} (set ${envName} to choose)`);
  return port;
}

/**
 * Creates `dir` and its parents readable and traversable by other users: Postgres runs as the
 * `postgres` user when we are root and must reach its data directory.
 * @param {string} dir
 */
function makeSharedDir(dir) {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  try {
    chmodSync(dir, 0o755);
  } catch {
    // not ours to change; devservers reports a clear error if Postgres cannot use it
  }
}

/**
 * Starts (or adopts) NATS and Postgres.
 * @param {InfraOptions} options
 * @returns {Promise<Infrastructure>}
 */
export async function startInfrastructure(options) {
  const { log } = options;
  /** @type {Array<() => Promise<void>>} stop functions, in start order */
  const started = [];
  const stopAll = async () => {
    for (const stop of started.reverse()) {
      try {
        await stop();
      } catch (error) {
        log(`stop failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    started.length = 0;
  };

  try {
    let natsUrl = options.natsUrl;
    if (!natsUrl && !onPath('nats-server')) {
      throw new MissingPrerequisiteError(
        'nats-server is not on PATH. Install nats-server 2.10 or newer (Debian 13: `sudo apt-get install -y nats-server`; Debian 12 and Ubuntu ship 2.9: see the README) or set NATS_URL to a running server.',
      );
    }
    let databaseUrl = options.databaseUrl;
    // Load devservers only when something must be started, so NATS_URL + DATABASE_URL need nothing built.
    const devservers = natsUrl && databaseUrl ? undefined : await import('@tessera/devservers');

    /** @type {import('@tessera/devservers').NatsIdentityKeys | undefined} */
    let natsKeys;
    /** @type {string | undefined} */
    let natsKeysDir;
    if (natsUrl) {
      log(`NATS: using NATS_URL ${natsUrl}`);
    } else if (devservers) {
      const storeDir = join(options.dataDir, 'nats');
      makeSharedDir(storeDir);
      const port = await choosePort('NATS', 'NATS_PORT', options.natsPort, log);
      if (options.natsAuthorization) {
        natsKeysDir = join(options.dataDir, 'nats-keys');
        natsKeys = await devservers.loadOrCreateNatsIdentityKeys(natsKeysDir);
      }
      const nats = await devservers.startNatsServer({
        host: '127.0.0.1',
        storeDir,
        ...(port ? { port } : {}),
        ...(natsKeys
          ? {
              authorization: devservers.natsAuthorization({
                keys: { publicKeys: devservers.publicKeysOf(natsKeys) },
              }),
            }
          : {}),
      });
      started.push(async () => {
        await nats.stop();
      });
      natsUrl = nats.url;
      log(
        `NATS: started nats-server ${nats.url} (JetStream store ${storeDir}${natsKeysDir ? `; permissions enforced, nkey seeds in ${natsKeysDir}` : ''})`,
      );
    }

    if (databaseUrl) {
      log(`Postgres: using DATABASE_URL ${redact(databaseUrl)}`);
    } else if (devservers) {
      const dataDir = join(options.dataDir, 'postgres');
      makeSharedDir(options.dataDir);
      const port = await choosePort('Postgres', 'POSTGRES_PORT', options.postgresPort, log);
      const postgres = await devservers.startPostgres({
        dataDir,
        persistent: options.persistent,
        fastUnsafe: options.fastUnsafe,
        ...(port ? { port } : {}),
      });
      started.push(async () => {
        await postgres.stop();
      });
      databaseUrl = postgres.url;
      // Our own throwaway credentials: printed in full so `psql` can be pointed at them.
      log(`Postgres: started ${postgres.url} (data ${dataDir})`);
    }

    if (!natsUrl || !databaseUrl) throw new Error('unreachable: NATS and Postgres must both be known here');
    return {
      natsUrl,
      databaseUrl,
      startedNats: !options.natsUrl,
      startedPostgres: !options.databaseUrl,
      natsKeys,
      natsKeysDir,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/**
 * Hides the password in a connection URL before it is printed.
 * @param {string} url
 * @returns {string}
 */
export function redact(url) {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}
