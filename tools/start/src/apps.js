// Discovers built apps (apps/<name>/dist/main.js) and runs each as a child process.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pipeLines, prefixFor } from './log.js';

/**
 * Fixed HTTP port offsets (from HTTP_PORT_BASE) for the apps we know will exist, so each keeps
 * its port whichever others are built. Other apps get offsets after these, in name order.
 */
export const KNOWN_APPS = [
  'inference-proxy',
  'billing',
  'scheduler',
  'training-coordinator',
  'scorer',
  'chain-indexer',
  'miner-agent',
];

/** Apps that run outside the platform, on miners' hosts: no NATS identity, no database. */
export const OFF_PLATFORM_APPS = ['miner-agent'];

/**
 * @typedef {object} AppSpec
 * @property {string} name
 * @property {string} dir      apps/<name>
 * @property {string} main     apps/<name>/dist/main.js
 * @property {number} httpPort
 */

/**
 * `BILLING_HTTP_PORT` for `billing`, `INFERENCE_PROXY_HTTP_PORT` for `inference-proxy`.
 * @param {string} name
 * @returns {string}
 */
export function portVariable(name) {
  return `${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_HTTP_PORT`;
}

/**
 * Lists the apps that have been built, in a stable order, with their HTTP ports.
 * @param {string} appsDir
 * @param {number} portBase
 * @param {NodeJS.ProcessEnv} env
 * @returns {AppSpec[]}
 */
export function discoverApps(appsDir, portBase, env) {
  if (!existsSync(appsDir)) return [];
  const names = readdirSync(appsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(appsDir, entry.name, 'dist', 'main.js')))
    .map((entry) => entry.name);
  const unknown = names.filter((name) => !KNOWN_APPS.includes(name)).sort();
  return names
    .map((name) => {
      const known = KNOWN_APPS.indexOf(name);
      const offset = known >= 0 ? known : KNOWN_APPS.length + unknown.indexOf(name);
      const override = env[portVariable(name)];
      const httpPort = override ? Number(override) : portBase + offset;
      if (!Number.isInteger(httpPort) || httpPort <= 0 || httpPort > 65535) {
        throw new Error(`${portVariable(name)} must be a TCP port, got ${JSON.stringify(override)}`);
      }
      return {
        name,
        dir: join(appsDir, name),
        main: join(appsDir, name, 'dist', 'main.js'),
        httpPort,
        offset,
      };
    })
    .sort((a, b) => a.offset - b.offset)
    .map(({ name, dir, main, httpPort }) => ({ name, dir, main, httpPort }));
}

/**
 * @typedef {object} RunningApp
 * @property {AppSpec} spec
 * @property {import('node:child_process').ChildProcess} child
 * @property {Promise<{ code: number | null, signal: NodeJS.Signals | null }>} exited
 * @property {boolean} stopping
 */

/**
 * Starts one app with the shared environment plus its own HTTP_PORT; its output lines are
 * prefixed `[name]`. `onUnexpectedExit` fires when it exits before we asked it to stop.
 * @param {AppSpec} spec
 * @param {number} colorIndex
 * @param {NodeJS.ProcessEnv} env
 * @param {(app: RunningApp, code: number | null, signal: NodeJS.Signals | null) => void} onUnexpectedExit
 * @returns {RunningApp}
 */
export function startApp(spec, colorIndex, env, onUnexpectedExit) {
  const prefix = prefixFor(spec.name, colorIndex);
  const child = spawn(process.execPath, [spec.main], {
    cwd: spec.dir,
    env: {
      ...env,
      HTTP_PORT: String(spec.httpPort),
      SERVICE_NAME: spec.name,
      // One Postgres schema per service (ARCHITECTURE.md): services never share tables.
      DATABASE_SCHEMA: spec.name.replaceAll('-', '_'),
      OTEL_SERVICE_NAME: env['OTEL_SERVICE_NAME'] ?? `tessera-${spec.name}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group: a terminal Ctrl-C reaches only us, and we stop apps before infrastructure.
    detached: true,
  });
  const output = Promise.all([
    child.stdout ? pipeLines(child.stdout, process.stdout, prefix) : Promise.resolve(),
    child.stderr ? pipeLines(child.stderr, process.stderr, prefix) : Promise.resolve(),
  ]);
  /** @type {RunningApp} */
  const app = {
    spec,
    child,
    stopping: false,
    exited: new Promise((resolve) => {
      child.once('error', (error) => {
        process.stderr.write(`${prefix} failed to start: ${error.message}\n`);
        resolve({ code: null, signal: null });
      });
      child.once('exit', (code, signal) => {
        // Let the last lines through before reporting the exit.
        void output.then(() => {
          if (!app.stopping) onUnexpectedExit(app, code, signal);
          resolve({ code, signal });
        });
      });
    }),
  };
  return app;
}

/**
 * SIGTERM, then SIGKILL for whatever is still running after `graceMs`.
 * @param {RunningApp[]} apps
 * @param {number} graceMs
 * @param {(message: string) => void} log
 */
export async function stopApps(apps, graceMs, log) {
  const running = apps.filter((app) => app.child.exitCode === null && app.child.signalCode === null);
  for (const app of running) {
    app.stopping = true;
    app.child.kill('SIGTERM');
  }
  const allExited = Promise.all(running.map((app) => app.exited));
  const timedOut = Symbol('timeout');
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const first = await Promise.race([
    allExited,
    new Promise((resolveTimeout) => {
      timer = setTimeout(() => resolveTimeout(timedOut), graceMs);
    }),
  ]);
  clearTimeout(timer);
  if (first !== timedOut) return;
  for (const app of running) {
    if (app.child.exitCode === null && app.child.signalCode === null) {
      log(`${app.spec.name} did not stop within ${graceMs} ms: SIGKILL`);
      app.child.kill('SIGKILL');
    }
  }
  await allExited;
}
