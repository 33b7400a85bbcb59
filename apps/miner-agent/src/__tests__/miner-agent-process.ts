import { fileURLToPath } from 'node:url';
import { findFreePort, startManagedProcess, waitForPort, type ManagedProcess } from '@tessera/devservers';

/** A miner-agent started from its build (`dist/main.js`), as a miner runs it. */
export interface MinerAgentProcess {
  process: ManagedProcess;
  /** `http://127.0.0.1:<MINER_PORT>`: control API and data plane. */
  baseUrl: string;
  /** The platform's HTTP port (health). */
  healthUrl: string;
  stop(): Promise<void>;
}

const main = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

/** Starts the agent with `env` on free ports and waits until its public port answers. */
export async function startMinerAgent(env: Record<string, string>): Promise<MinerAgentProcess> {
  const [minerPort, httpPort] = [await findFreePort(), await findFreePort()];
  const child = startManagedProcess({
    name: 'miner-agent',
    command: process.execPath,
    args: [main],
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '/tmp',
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      MINER_HOST: '127.0.0.1',
      MINER_PORT: String(minerPort),
      HTTP_PORT: String(httpPort),
      ...env,
    },
    pipeOutput: process.env['TESSERA_MINER_LOG'] === '1',
  });
  await waitForPort('127.0.0.1', minerPort, 60_000, () =>
    child.exitInfo() ? new Error(`miner-agent exited during start-up:\n${child.recentOutput()}`) : undefined,
  );
  return {
    process: child,
    baseUrl: `http://127.0.0.1:${minerPort}`,
    healthUrl: `http://127.0.0.1:${httpPort}`,
    stop: () => child.stop('SIGTERM', 15_000),
  };
}
