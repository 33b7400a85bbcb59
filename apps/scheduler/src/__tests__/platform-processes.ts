/**
 * Runs the platform's apps from their builds (`apps/<app>/dist/main.js`) as child processes, the
 * way `npm start` and Kubernetes run them. Apps never import each other: they are started by path.
 */
import { fileURLToPath } from 'node:url';
import {
  findFreePort,
  sleep,
  startManagedProcess,
  waitForPort,
  type ManagedProcess,
} from '@tessera/devservers';

export type AppName = 'billing' | 'chain-indexer' | 'scheduler' | 'miner-agent';

const mainOf = (app: AppName): string =>
  fileURLToPath(new URL(`../../../${app}/dist/main.js`, import.meta.url));

/** A running app. */
export interface AppProcess {
  readonly name: string;
  readonly process: ManagedProcess;
  readonly httpPort: number;
  /** `GET /health/ready`: status and body (status 0 when nothing answers). */
  readiness(): Promise<{ status: number; body: string }>;
  /** SIGTERM, then SIGKILL after the grace. */
  stop(): Promise<void>;
}

/** Starts an app with `env` (plus PATH, HOME and a free `HTTP_PORT`) and waits until it is ready. */
export async function startApp(
  app: AppName,
  env: Record<string, string>,
  options: { name?: string; readyTimeoutMs?: number; waitForReady?: boolean } = {},
): Promise<AppProcess> {
  const name = options.name ?? app;
  const httpPort = await findFreePort();
  const child = startManagedProcess({
    name,
    command: process.execPath,
    args: [mainOf(app)],
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '/tmp',
      NODE_ENV: 'test',
      LOG_LEVEL: process.env['TESSERA_TEST_LOG'] === '1' ? 'info' : 'warn',
      SHUTDOWN_GRACE_MS: '3000',
      HTTP_PORT: String(httpPort),
      ...env,
    },
    pipeOutput: process.env['TESSERA_TEST_LOG'] === '1',
  });
  const readiness = async (): Promise<{ status: number; body: string }> => {
    const response = await fetch(`http://127.0.0.1:${httpPort}/health/ready`, {
      signal: AbortSignal.timeout(5_000),
    }).catch(() => undefined);
    return response ? { status: response.status, body: await response.text() } : { status: 0, body: '' };
  };
  const handle: AppProcess = {
    name,
    process: child,
    httpPort,
    readiness,
    stop: () => child.stop('SIGTERM', 10_000),
  };
  if (options.waitForReady === false) return handle;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000);
  for (;;) {
    const exit = child.exitInfo();
    if (exit)
      throw new Error(`${name} exited during start-up (${JSON.stringify(exit)}):\n${child.recentOutput()}`);
    if ((await readiness()).status === 200) return handle;
    if (Date.now() > deadline) {
      throw new Error(`${name} not ready in time: ${(await readiness()).body}\n${child.recentOutput()}`);
    }
    await sleep(250);
  }
}

/** A miner-agent on a given (or free) public port, with the llama engine and declared CPU "GPUs". */
export interface MinerProcess extends AppProcess {
  readonly minerPort: number;
  readonly baseUrl: string;
}

export async function startMiner(env: Record<string, string>, minerPort?: number): Promise<MinerProcess> {
  const port = minerPort ?? (await findFreePort());
  const app = await startApp(
    'miner-agent',
    { MINER_HOST: '127.0.0.1', MINER_PORT: String(port), ENGINES: 'llama', ...env },
    { name: `miner-${port}`, waitForReady: false },
  );
  await waitForPort('127.0.0.1', port, 60_000, () =>
    app.process.exitInfo()
      ? new Error(`miner-agent exited during start-up:\n${app.process.recentOutput()}`)
      : undefined,
  );
  return { ...app, minerPort: port, baseUrl: `http://127.0.0.1:${port}` };
}
