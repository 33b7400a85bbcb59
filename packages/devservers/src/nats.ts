import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  natsServerConfig,
  renderNatsConfig,
  type ClusterConfig,
  type NatsConfigValue,
} from './nats-config.js';
import {
  exitedEarlyError,
  findExecutable,
  findFreePort,
  startManagedProcess,
  waitForPort,
  type ManagedProcess,
} from './process.js';

/** Options for {@link startNatsServer}. */
export interface NatsServerOptions {
  /** Port to listen on; a free one when omitted. */
  port?: number;
  /** JetStream store directory; a temporary one (removed on stop) when omitted. */
  storeDir?: string;
  /** Address to bind; 127.0.0.1 by default. */
  host?: string;
  /** Pipe the server's output with a `[nats]` prefix. */
  pipeOutput?: boolean;
  /** How long to wait for the port to open; 15 s by default. */
  startTimeoutMs?: number;
  /**
   * An `authorization` block (`natsAuthorization(...)`): clients must then present a known nkey
   * and get only their identity's permissions. None (the default) means no authentication.
   */
  authorization?: Record<string, NatsConfigValue>;
  /** The server's name; a cluster needs one per node (stream leaders are reported by it). */
  serverName?: string;
  /** Join a cluster (see `startNatsCluster`). */
  cluster?: ClusterConfig;
  /** fsync every JetStream write (`sync_interval: always`), as the deployments do. */
  syncAlways?: boolean;
  /** Name used as the output prefix. */
  label?: string;
}

/** A running nats-server with JetStream. */
export interface NatsServerHandle {
  /** `nats://host:port`. */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  readonly storeDir: string;
  /** The server's name (set for cluster nodes). */
  readonly serverName: string | undefined;
  /** The server process's id while it runs (a new one after `restart()`): benchmarks read its CPU time. */
  pid(): number | undefined;
  /** Whether the process is running now (false after `kill()` until `restart()`). */
  isRunning(): boolean;
  /** Graceful stop; removes the store dir when it was a temporary one. */
  stop(): Promise<void>;
  /** Hard kill (SIGKILL by default) for fault tests; the store dir is kept so `restart()` can bring the data back. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stops the server if it runs and starts it again on the same port and store: JetStream data survives. */
  restart(): Promise<void>;
}

/** The oldest nats-server Tessera runs on: compose and Kubernetes run `nats:2.10`. */
export const MIN_NATS_SERVER_VERSION = { major: 2, minor: 10 } as const;

const INSTALL_HINT =
  'Install nats-server 2.10 or newer: Debian 13 (trixie) ships 2.10 (`apt-get install -y nats-server`); ' +
  "on Debian 12 and Ubuntu, .ci/run installs trixie's package (a static binary that runs there too); " +
  'elsewhere take a release from https://github.com/nats-io/nats-server/releases and put it on PATH.';

const versionByBinary = new Map<string, Promise<string>>();

/** `2.10.27` from `nats-server: v2.10.27`. */
export function parseNatsServerVersion(output: string): { major: number; minor: number; patch: number } {
  const match = /v?(\d+)\.(\d+)\.(\d+)/.exec(output);
  if (!match) throw new Error(`cannot read a nats-server version from ${JSON.stringify(output.trim())}`);
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]) };
}

/**
 * Finds nats-server (PATH, then /usr/sbin where Debian puts it) and refuses one older than
 * {@link MIN_NATS_SERVER_VERSION}: 2.9 refuses settings the deployments use (`sync_interval`,
 * several filter subjects per consumer), so tests on it would not test what runs.
 */
export async function findNatsServer(): Promise<string> {
  const binary = await findExecutable('nats-server', ['/usr/sbin', '/usr/local/sbin']);
  if (!binary) throw new Error(`nats-server was not found on PATH or in /usr/sbin. ${INSTALL_HINT}`);
  let version = versionByBinary.get(binary);
  if (!version) {
    version = promisify(execFile)(binary, ['--version']).then(({ stdout, stderr }) => `${stdout}${stderr}`);
    versionByBinary.set(binary, version);
  }
  const found = parseNatsServerVersion(await version);
  const { major, minor } = MIN_NATS_SERVER_VERSION;
  if (found.major < major || (found.major === major && found.minor < minor)) {
    throw new Error(
      `${binary} is nats-server ${found.major}.${found.minor}.${found.patch}; Tessera needs ${major}.${minor} or newer. ${INSTALL_HINT}`,
    );
  }
  return binary;
}

/** Starts `nats-server` with JetStream as a child process and waits until it accepts connections. */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const binary = await findNatsServer();

  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (await findFreePort(host));
  const ownsStoreDir = opts.storeDir === undefined;
  const storeDir = opts.storeDir ?? (await mkdtemp(join(tmpdir(), 'tessera-nats-')));
  const timeoutMs = opts.startTimeoutMs ?? 15_000;
  // The config lives apart from the store: it may hold public keys, never data worth keeping.
  const configDir = await mkdtemp(join(tmpdir(), 'tessera-nats-conf-'));
  const configFile = join(configDir, 'nats.conf');
  await writeFile(
    configFile,
    renderNatsConfig(
      natsServerConfig({
        listen: `${host}:${port}`,
        ...(opts.serverName === undefined ? {} : { serverName: opts.serverName }),
        jetstream: { storeDir, syncAlways: opts.syncAlways ?? false },
        ...(opts.cluster ? { cluster: opts.cluster } : {}),
        ...(opts.authorization ? { authorization: opts.authorization } : {}),
      }),
    ),
    { mode: 0o600 },
  );
  const removeTemp = async (): Promise<void> => {
    await rm(configDir, { recursive: true, force: true });
    if (ownsStoreDir) await rm(storeDir, { recursive: true, force: true });
  };

  let child: ManagedProcess | undefined;
  const launch = async (): Promise<void> => {
    const started = startManagedProcess({
      name: opts.label ?? 'nats',
      command: binary,
      args: ['-c', configFile],
      pipeOutput: opts.pipeOutput ?? false,
      // Its own process group: a Ctrl-C in the terminal reaches whoever started it, who stops the
      // server last (after the apps that use it have drained), not the server directly.
      ownProcessGroup: true,
    });
    child = started;
    try {
      await waitForPort(host, port, timeoutMs, () => exitedEarlyError(started));
    } catch (err) {
      await started.kill();
      throw err;
    }
  };

  try {
    await launch();
  } catch (err) {
    await removeTemp();
    throw err;
  }

  return {
    url: `nats://${host}:${port}`,
    port,
    host,
    storeDir,
    serverName: opts.serverName,
    isRunning: () => child !== undefined && child.exitInfo() === undefined,
    pid: () => (child !== undefined && child.exitInfo() === undefined ? child.pid : undefined),
    async stop() {
      await child?.stop('SIGTERM');
      await removeTemp();
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      await child?.kill(signal);
    },
    async restart() {
      await child?.stop('SIGTERM');
      await launch();
    },
  };
}
