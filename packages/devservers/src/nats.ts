import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
}

/** A running nats-server with JetStream. */
export interface NatsServerHandle {
  /** `nats://host:port`. */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  readonly storeDir: string;
  /** Graceful stop; removes the store dir when it was a temporary one. */
  stop(): Promise<void>;
  /** Hard kill (SIGKILL by default) for fault tests; the store dir is kept so `restart()` can bring the data back. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stops the server if it runs and starts it again on the same port and store: JetStream data survives. */
  restart(): Promise<void>;
}

const INSTALL_HINT =
  'nats-server was not found on PATH or in /usr/sbin. Install it with: apt-get install -y nats-server';

/** Starts `nats-server -js` as a child process and waits until it accepts connections. */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const binary = await findExecutable('nats-server', ['/usr/sbin', '/usr/local/sbin']);
  if (!binary) throw new Error(INSTALL_HINT);

  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (await findFreePort(host));
  const ownsStoreDir = opts.storeDir === undefined;
  const storeDir = opts.storeDir ?? (await mkdtemp(join(tmpdir(), 'tessera-nats-')));
  const timeoutMs = opts.startTimeoutMs ?? 15_000;

  let child: ManagedProcess | undefined;
  const launch = async (): Promise<void> => {
    const started = startManagedProcess({
      name: 'nats',
      command: binary,
      args: ['-a', host, '-p', String(port), '-js', '-sd', storeDir],
      pipeOutput: opts.pipeOutput ?? false,
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
    if (ownsStoreDir) await rm(storeDir, { recursive: true, force: true });
    throw err;
  }

  return {
    url: `nats://${host}:${port}`,
    port,
    host,
    storeDir,
    async stop() {
      await child?.stop('SIGTERM');
      if (ownsStoreDir) await rm(storeDir, { recursive: true, force: true });
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
