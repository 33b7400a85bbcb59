/** Runs the built indexer (`dist/main.js`) as a child process, as `npm start` and Kubernetes do. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { findFreePort } from '@tessera/devservers';

const mainPath = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

export interface IndexerProcess {
  readonly httpPort: number;
  readonly output: string[];
  /** Resolves with the first output line matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  ready(): Promise<{ status: number; body: string }>;
  /** Sends `signal` (SIGTERM by default) and resolves with how the process exited. */
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function startIndexer(env: Record<string, string>): Promise<IndexerProcess> {
  const httpPort = await findFreePort();
  const child: ChildProcess = spawn(process.execPath, [mainPath], {
    env: {
      PATH: process.env['PATH'] ?? '',
      SERVICE_NAME: 'chain-indexer',
      HTTP_PORT: String(httpPort),
      LOG_LEVEL: 'info',
      SHUTDOWN_GRACE_MS: '3000',
      // A restarted indexer waits this long for the consumer leases its killed predecessor held.
      CONSUMER_LEASE_TTL_MS: '1500',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const listeners = new Set<(line: string) => void>();
  const onData = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line === '') continue;
      output.push(line);
      if (process.env['INDEXER_TEST_LOG'] === '1') console.log(`[indexer] ${line}`);
      for (const listener of listeners) listener(line);
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = once(child, 'exit');
  return {
    httpPort,
    output,
    waitForLine(pattern, timeoutMs = 60_000) {
      const seen = output.find((line) => pattern.test(line));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(listener);
          reject(
            new Error(
              `no output line matched ${pattern} in ${timeoutMs} ms; last lines:\n${output.slice(-15).join('\n')}`,
            ),
          );
        }, timeoutMs);
        const listener = (line: string): void => {
          if (!pattern.test(line)) return;
          clearTimeout(timer);
          listeners.delete(listener);
          resolve(line);
        };
        listeners.add(listener);
      });
    },
    async ready() {
      const response = await fetch(`http://127.0.0.1:${httpPort}/health/ready`).catch(() => undefined);
      return response ? { status: response.status, body: await response.text() } : { status: 0, body: '' };
    },
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
      return { code: child.exitCode, signal: child.signalCode };
    },
  };
}
