// `npm start`: NATS + Postgres (started or reused), then every built app, until Ctrl-C / SIGTERM.
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { setInterval, clearInterval } from 'node:timers';
import { fileURLToPath } from 'node:url';
import { discoverApps, OFF_PLATFORM_APPS, startApp, stopApps } from './apps.js';
import { loadEnvFile, portFromEnv } from './env.js';
import { MissingPrerequisiteError, startInfrastructure } from './infra.js';
import { LOCAL_PLATFORM_APPS, seedLocalPlatform, startLocalPlatform } from './local-platform.js';
import { info, warn } from './log.js';
import { freePort, isPortFree } from './ports.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * @param {string} name
 * @param {number} fallback
 * @returns {number}
 */
function numberFromEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`${name} must be a non-negative number, got ${JSON.stringify(raw)}`);
  return value;
}

/**
 * Runs until a stop signal; resolves to the process exit code.
 * @returns {Promise<number>}
 */
export async function main() {
  const envFile = join(process.cwd(), '.env');
  if (loadEnvFile(envFile)) info(`loaded ${envFile}`);

  const dataDir = resolve(process.env['TESSERA_DATA_DIR'] || join(repoRoot, '.data'));
  const appsDir = resolve(process.env['TESSERA_APPS_DIR'] || join(repoRoot, 'apps'));
  const graceMs = numberFromEnv('TESSERA_STOP_GRACE_MS', 15_000);
  const portBase = numberFromEnv('HTTP_PORT_BASE', 3000);

  /** @type {import('./infra.js').Infrastructure | undefined} */
  let infra;
  /** @type {import('./apps.js').RunningApp[]} */
  const apps = [];
  let stopping = false;
  /** @type {(signal: NodeJS.Signals) => void} */
  let requestStop = () => {};
  const stopRequested = new Promise((resolveStop) => {
    requestStop = resolveStop;
  });
  /** @param {NodeJS.Signals} signal */
  const onSignal = (signal) => {
    if (stopping) {
      info(`${signal} again: still stopping (grace period ${graceMs} ms)`);
      return;
    }
    stopping = true;
    requestStop(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Apps run in their own process groups: never leave them behind, even on a crash.
  process.on('exit', () => {
    for (const app of apps)
      if (app.child.exitCode === null && app.child.signalCode === null) app.child.kill('SIGKILL');
  });

  // Without CHAIN_ENDPOINT, the chain is a local one that starts from its genesis on every run,
  // so the platform's own state (streams, projections) starts afresh with it: state kept from an
  // earlier chain would point at blocks this one never had.
  const built = discoverApps(appsDir, portBase, process.env).map((spec) => spec.name);
  const wantsLocalPlatform =
    !process.env['CHAIN_ENDPOINT'] &&
    process.env['TESSERA_LOCAL_PLATFORM'] !== '0' &&
    LOCAL_PLATFORM_APPS.every((name) => built.includes(name));
  if (wantsLocalPlatform) {
    if (process.env['NATS_URL'] || process.env['DATABASE_URL']) {
      warn(
        'a local chain with NATS_URL/DATABASE_URL: state kept there from an earlier chain will not match this one',
      );
    } else {
      info(`local chain: clearing the previous run's NATS and Postgres data in ${dataDir}`);
      for (const dir of ['nats', 'postgres']) rmSync(join(dataDir, dir), { recursive: true, force: true });
    }
  }

  /** @type {import('./local-platform.js').LocalPlatform | undefined} */
  let local;
  try {
    infra = await startInfrastructure({
      dataDir,
      natsUrl: process.env['NATS_URL'] || undefined,
      databaseUrl: process.env['DATABASE_URL'] || undefined,
      natsPort: portFromEnv('NATS_PORT', 4222),
      postgresPort: portFromEnv('POSTGRES_PORT', 5432),
      persistent: true,
      fastUnsafe: false,
      natsAuthorization: true,
      log: info,
    });
  } catch (error) {
    if (error instanceof MissingPrerequisiteError) {
      warn(error.message);
      return 1;
    }
    throw error;
  }

  // Beside the seeds, for the operator CLI (`npx tessera`, tools/cli), which reads both from here.
  const natsUrlFile = infra.natsKeysDir ? join(infra.natsKeysDir, 'nats-url') : undefined;
  if (natsUrlFile) writeFileSync(natsUrlFile, infra.natsUrl, { mode: 0o600 });

  if (!stopping && wantsLocalPlatform) {
    const wanted = portFromEnv('MINER_PORT', 8091);
    const minerPort = (await isPortFree(wanted.port)) ? wanted.port : await freePort();
    try {
      local = await startLocalPlatform({ dataDir, minerPort, appsDir, log: info });
    } catch (error) {
      warn(`the local chain did not start: ${error instanceof Error ? error.message : String(error)}`);
      await infra.stop();
      return 1;
    }
  }

  if (!stopping) {
    /** @type {NodeJS.ProcessEnv} */
    const env = { ...process.env, NATS_URL: infra.natsUrl, DATABASE_URL: infra.databaseUrl };
    env['LOG_LEVEL'] ??= 'info';
    // With our own NATS, each app gets its own identity's seed below, never one from the shell.
    if (infra.natsKeys) delete env['NATS_NKEY_SEED'];
    const natsKeys = infra.natsKeys;
    const specs = discoverApps(appsDir, portBase, env);
    if (specs.length === 0) {
      info(
        `no apps built yet (nothing matches ${join(appsDir, '*', 'dist', 'main.js')}): running NATS and Postgres only`,
      );
    }
    specs.forEach((spec, index) => {
      info(`starting ${spec.name} on HTTP port ${spec.httpPort}`);
      const seed = natsKeys ? natsKeySeed(natsKeys, spec.name) : undefined;
      const appEnv = { ...env, ...local?.envFor(spec.name) };
      if (natsKeys && seed === undefined && !OFF_PLATFORM_APPS.includes(spec.name)) {
        warn(
          `${spec.name} has no NATS identity in packages/contracts/src/nats-permissions.ts: NATS will refuse its connection`,
        );
      }
      apps.push(
        startApp(spec, index, seed ? { ...appEnv, NATS_NKEY_SEED: seed } : appEnv, (app, code, signal) => {
          warn(
            `${app.spec.name} exited unexpectedly (${signal ? `signal ${signal}` : `exit code ${code}`}); the others keep running`,
          );
        }),
      );
    });
    info(
      `ready: NATS ${infra.natsUrl}, Postgres ${infra.startedPostgres ? infra.databaseUrl : 'from DATABASE_URL'}, ${apps.length} app(s). Ctrl-C to stop.`,
    );
    if (infra.natsKeysDir) {
      info(
        `operator CLI: npx tessera --help (from this repository it finds NATS and the operator seed in ${infra.natsKeysDir}; elsewhere set NATS_URL=${infra.natsUrl} NATS_NKEY_SEED="$(cat ${join(infra.natsKeysDir, 'operator.nk')})")`,
      );
    }
    if (local) {
      const operatorSeed = natsKeys ? natsKeySeed(natsKeys, 'operator') : undefined;
      const proxy = specs.find((spec) => spec.name === 'inference-proxy');
      void seedLocalPlatform(local, { natsUrl: infra.natsUrl, operatorSeed, stopped: () => stopping }).then(
        (demo) => {
          if (!demo) return;
          info(
            `demo: account "${demo.accountId}" has $5.00 of credit; deployment "${demo.deploymentId}" (model "${demo.model}") is starting on the demo miner`,
          );
          if (proxy)
            info(
              `demo: OpenAI-compatible API at http://127.0.0.1:${proxy.httpPort}/v1 (see the README for a key)`,
            );
        },
        (error) => warn(`demo set-up failed: ${error instanceof Error ? error.message : String(error)}`),
      );
    }
  }

  // Signal handlers do not keep Node's event loop alive; this does, until a stop is requested.
  const keepAlive = setInterval(() => {}, 1 << 30);
  const signal = await stopRequested;
  clearInterval(keepAlive);
  info(`${signal}: stopping`);
  if (apps.length > 0) {
    info(`stopping ${apps.length} app(s)`);
    await stopApps(apps, graceMs, info);
  }
  if (local) {
    info('stopping the local chain');
    await local.stop();
  }
  if (natsUrlFile) rmSync(natsUrlFile, { force: true });
  if (infra.startedPostgres || infra.startedNats) info('stopping Postgres and NATS');
  await infra.stop();
  info('stopped');
  return 0;
}

/**
 * The seed of the identity named like the app (`billing`), if the permissions table has one.
 * @param {import('@tessera/devservers').NatsIdentityKeys} keys
 * @param {string} name
 * @returns {string | undefined}
 */
function natsKeySeed(keys, name) {
  return Object.hasOwn(keys, name) ? keys[/** @type {keyof typeof keys} */ (name)].seed : undefined;
}
