// Runs the real `npm start` entry point (tools/start/start.js) as a child process, in its own
// process group, and watches its output.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const startScript = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'start.js');

export interface Started {
  child: ChildProcess;
  output: () => string;
  waitFor: (pattern: RegExp, timeoutMs: number) => Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function runStart(cwd: string, env: NodeJS.ProcessEnv): Started {
  // Its own process group, like a job in a terminal: `ctrlC` signals the whole group.
  const child = spawn(process.execPath, [startScript], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    for (const wake of waiters) wake();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
    child.once('exit', (code, signal) => {
      resolveExit({ code, signal });
      for (const wake of waiters) wake();
    });
  });
  const waitFor = (pattern: RegExp, timeoutMs: number) =>
    new Promise<RegExpMatchArray>((resolveMatch, reject) => {
      const check = () => {
        const match = output.match(pattern);
        if (match) {
          done();
          resolveMatch(match);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          done();
          reject(new Error(`start.js exited before printing ${pattern}:\n${output}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${output}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  return { child, output: () => output, waitFor, exited };
}

/** Environment for start.js without anything from the developer's shell that would change its behaviour. */
export function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) {
    if (/^(NATS_|DATABASE_URL|POSTGRES_PORT|TESSERA_|HTTP_PORT)/.test(key) || key.endsWith('_HTTP_PORT'))
      delete env[key];
  }
  return { ...env, ...extra };
}

