// A built app (apps/<name>/dist/main.js) run as a real process for a test: its output is kept,
// and the test can wait for its readiness, stop it with a signal, and see how it exited.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** A running app process. */
export interface AppProcess {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves when `GET /health/ready` answers 200; rejects if the app exits or `timeoutMs` passes. */
  waitUntilReady(port: number, timeoutMs: number): Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends SIGTERM (or `signal`) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `apps/<name>/dist/main.js` with exactly `env` (plus PATH and HOME). */
export function startAppProcess(name: string, env: Record<string, string>): AppProcess {
  const child = spawn(process.execPath, [join(repoRoot, 'apps', name, 'dist', 'main.js')], {
    cwd: join(repoRoot, 'apps', name),
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
    child.once('exit', (code, signal) => resolveExit({ code, signal }));
  });
  const running = () => child.exitCode === null && child.signalCode === null;

  return {
    child,
    output: () => output,
    exited,
    async waitUntilReady(port, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (!running()) throw new Error(`${name} exited before it was ready:\n${output}`);
        const ready = await fetch(`http://127.0.0.1:${port}/health/ready`).then(
          (response) => response.status === 200,
          () => false,
        );
        if (ready) return;
        if (Date.now() > deadline) throw new Error(`${name} not ready after ${timeoutMs} ms:\n${output}`);
        await new Promise((wake) => setTimeout(wake, 100));
      }
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (running()) child.kill(signal);
      return await exited;
    },
  };
}
