import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { findFreePort, startManagedProcess, waitForPort, type ManagedProcess } from './process.js';

/** Options for {@link startChopsticks}. */
export interface ChopsticksOptions {
  /** Absolute path of a raw chain spec (e.g. subtensor's raonet.json). */
  specPath: string;
  /** Port to serve on; a free one when omitted. */
  port?: number;
  /** Pipe chopsticks' output with a `[chain]` prefix. */
  pipeOutput?: boolean;
  /** How long to wait for the chain to serve RPC; 120 s by default. */
  startTimeoutMs?: number;
}

/** A running chopsticks process. */
export interface ChopsticksHandle {
  /** `ws://127.0.0.1:<port>`. */
  readonly endpoint: string;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

function chopsticksCli(): string {
  // The package's `require` entry is dist/cjs/index.js; its bin sits at the package root.
  const entry = createRequire(import.meta.url).resolve('@acala-network/chopsticks');
  return join(dirname(entry), '..', '..', 'chopsticks.cjs');
}

/**
 * Runs a raw chain spec in chopsticks (Instant block mode: every submitted extrinsic builds a
 * block, and each block is final at once), offline, on 127.0.0.1.
 */
export async function startChopsticks(options: ChopsticksOptions): Promise<ChopsticksHandle> {
  const port = options.port ?? (await findFreePort());
  // chopsticks lets a PORT env var and a .env file in its cwd override --port: keep both out.
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'warn' };
  delete env['PORT'];
  const child = startManagedProcess({
    name: 'chain',
    command: process.execPath,
    args: [
      chopsticksCli(),
      `--genesis=${options.specPath}`,
      `--port=${port}`,
      '--host=127.0.0.1',
      '--build-block-mode=Instant',
    ],
    cwd: tmpdir(),
    env,
    pipeOutput: options.pipeOutput ?? false,
  });
  try {
    await waitForPort('127.0.0.1', port, options.startTimeoutMs ?? 120_000, () => {
      const info = child.exitInfo();
      return info
        ? new Error(`chopsticks exited during startup (code ${String(info.code)}):\n${child.recentOutput()}`)
        : undefined;
    });
  } catch (err) {
    await child.kill();
    throw err;
  }
  return {
    endpoint: `ws://127.0.0.1:${port}`,
    process: child,
    stop: () => child.stop('SIGTERM', 5_000),
  };
}
