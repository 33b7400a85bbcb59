// Runs the real `npm start` entry point (tools/start/start.js) against a temporary data
// directory and temporary apps, with real nats-server and Postgres processes.
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { connect, nkeyAuthenticator } from '@nats-io/transport-node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, isListening } from '../src/ports.js';
import { cleanEnv, runStart, startScript } from './start-process.js';

/** A NATS server greets every client with INFO: what it runs (JetStream) and whether it wants credentials. */
function natsHandshake(port: number): Promise<{ info: Record<string, unknown> }> {
  return new Promise((resolveHandshake, reject) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no NATS INFO on ${port}: ${received}`));
    }, 5000);
    socket.on('data', (chunk) => {
      received += chunk.toString('utf8');
      const infoLine = received.match(/^INFO (\{.*\}) *\r\n/);
      if (infoLine?.[1]) {
        clearTimeout(timer);
        socket.destroy();
        resolveHandshake({ info: JSON.parse(infoLine[1]) as Record<string, unknown> });
      }
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

function writeApp(appsDir: string, name: string, source: string): void {
  mkdirSync(join(appsDir, name, 'dist'), { recursive: true });
  writeFileSync(join(appsDir, name, 'dist', 'main.js'), source);
}

const ECHO_APP = `
import { createServer } from 'node:http';
const server = createServer((_req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ natsUrl: process.env.NATS_URL, databaseUrl: process.env.DATABASE_URL, service: process.env.SERVICE_NAME }));
});
server.listen(Number(process.env.HTTP_PORT), '127.0.0.1', () => console.log('listening on ' + process.env.HTTP_PORT));
process.on('SIGTERM', () => { console.log('got SIGTERM'); server.close(() => process.exit(0)); });
`;
const CRASH_APP = `console.error('boom'); process.exit(3);\n`;
/**
 * An app named like a service, so it gets that identity's seed: it serves an RPC over NATS and,
 * on SIGTERM, keeps writing to Postgres and flushing to NATS for a second before it exits, as
 * an app draining its work does. Its packages resolve from this workspace.
 */
const DRAINING_APP = `
import { createRequire } from 'node:module';
const require = createRequire(${JSON.stringify(join(dirname(startScript), 'package.json'))});
const pg = require('pg');
const { connect, nkeyAuthenticator } = require('@nats-io/transport-node');
const db = new pg.Client({ connectionString: process.env.DATABASE_URL });
await db.connect();
await db.query('create table if not exists drain_log (n int)');
const nc = await connect({
  servers: process.env.NATS_URL.split(','),
  authenticator: nkeyAuthenticator(new TextEncoder().encode(process.env.NATS_NKEY_SEED)),
  inboxPrefix: '_INBOX_' + process.env.SERVICE_NAME,
});
nc.subscribe('rpc.billing.ping', { callback: (_err, msg) => { msg.respond('pong from ' + process.env.SERVICE_NAME); } });
await nc.flush();
console.log('serving');
process.on('SIGTERM', async () => {
  let failed = 0;
  for (let n = 0; n < 20; n += 1) {
    try {
      await db.query('insert into drain_log values ($1)', [n]);
      await nc.flush();
    } catch (error) {
      failed += 1;
      console.log('drain step failed: ' + error.message);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  console.log('drained: 20 steps after SIGTERM, ' + failed + ' failed');
  await nc.drain();
  await db.end();
  process.exit(0);
});
setInterval(() => {}, 1000);
`;
const STUBBORN_APP = `process.on('SIGTERM', () => console.log('ignoring SIGTERM')); setInterval(() => {}, 1000); console.log('up');\n`;

describe('npm start (tools/start/start.js)', () => {
  let workDir: string;

  beforeAll(() => {
    workDir = mkdtempSync(join(tmpdir(), 'tessera-start-test-'));
    // Postgres runs as the postgres user when we are root: it must traverse to its data dir.
    chmodSync(workDir, 0o755);
  });
  afterAll(() => {
    rmSync(workDir, { recursive: true, force: true });
  });

  it('runs NATS, Postgres and the built apps, and stops everything on SIGINT', async () => {
    const dataDir = join(workDir, 'data');
    const appsDir = join(workDir, 'apps');
    writeApp(appsDir, 'echo', ECHO_APP);
    writeApp(appsDir, 'crash', CRASH_APP);
    writeApp(appsDir, 'stubborn', STUBBORN_APP);
    mkdirSync(join(appsDir, 'not-built', 'src'), { recursive: true });
    const [natsPort, postgresPort, echoPort] = [await freePort(), await freePort(), await freePort()];

    const start = runStart(
      workDir,
      cleanEnv({
        TESSERA_DATA_DIR: dataDir,
        TESSERA_APPS_DIR: appsDir,
        TESSERA_STOP_GRACE_MS: '1000',
        NATS_PORT: String(natsPort),
        POSTGRES_PORT: String(postgresPort),
        ECHO_HTTP_PORT: String(echoPort),
      }),
    );
    try {
      await start.waitFor(/\] ready: /, 90_000);
      const databaseUrl = (await start.waitFor(/Postgres: started (postgres:\/\/\S+)/, 1000))[1] ?? '';

      // The server enforces the permissions table: a client must present an nkey.
      const { info } = await natsHandshake(natsPort);
      expect(info['jetstream']).toBe(true);
      expect(info['auth_required']).toBe(true);
      for (const identity of ['billing', 'chain-indexer', 'operator']) {
        expect(statSync(join(dataDir, 'nats-keys', `${identity}.nk`)).mode & 0o777).toBe(0o600);
      }
      expect(start.output()).toContain('echo has no NATS identity');

      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      try {
        const result = await client.query<{ db: string }>('select current_database() as db');
        expect(result.rows[0]?.db).toBe('tessera');
      } finally {
        await client.end();
      }

      await start.waitFor(/\[echo\] listening on \d+/, 10_000);
      const response = await fetch(`http://127.0.0.1:${echoPort}/`);
      const body = (await response.json()) as { natsUrl: string; databaseUrl: string; service: string };
      expect(body.natsUrl).toBe(`nats://127.0.0.1:${natsPort}`);
      expect(body.databaseUrl).toBe(databaseUrl);
      expect(body.service).toBe('echo');

      await start.waitFor(/\[crash\] boom/, 10_000);
      await start.waitFor(/crash exited unexpectedly \(exit code 3\)/, 10_000);
      await start.waitFor(/\[stubborn\] up/, 10_000);
      expect(start.output()).not.toContain('not-built');

      start.child.kill('SIGINT');
      const exit = await start.exited;
      expect(exit).toEqual({ code: 0, signal: null });
      const output = start.output();
      expect(output).toContain('[echo] got SIGTERM');
      expect(output).toMatch(/stubborn did not stop within 1000 ms: SIGKILL/);
      expect(output.indexOf('[echo] got SIGTERM')).toBeLessThan(output.indexOf('stopping Postgres and NATS'));
      expect(output).toContain('[tessera] stopped');

      expect(await isListening(natsPort)).toBe(false);
      expect(await isListening(postgresPort)).toBe(false);
      expect(await isListening(echoPort)).toBe(false);
      // Data persists for the next `npm start`.
      expect(existsSync(join(dataDir, 'postgres', 'PG_VERSION'))).toBe(true);
      expect(existsSync(join(dataDir, 'nats'))).toBe(true);
    } finally {
      if (start.child.exitCode === null && start.child.signalCode === null) {
        start.child.kill('SIGTERM');
        await start.exited;
      }
    }
  }, 180_000);

  it('on Ctrl-C stops the apps first: a draining app still has Postgres and NATS, then they stop', async () => {
    const dataDir = join(workDir, 'data-drain');
    const appsDir = join(workDir, 'apps-drain');
    writeApp(appsDir, 'billing', DRAINING_APP);
    const [natsPort, postgresPort, billingPort] = [await freePort(), await freePort(), await freePort()];
    const start = runStart(
      workDir,
      cleanEnv({
        TESSERA_DATA_DIR: dataDir,
        TESSERA_APPS_DIR: appsDir,
        NATS_PORT: String(natsPort),
        POSTGRES_PORT: String(postgresPort),
        BILLING_HTTP_PORT: String(billingPort),
      }),
    );
    try {
      await start.waitFor(/\] ready: /, 90_000);
      await start.waitFor(/\[billing\] serving/, 20_000);
      const natsUrl = `nats://127.0.0.1:${natsPort}`;

      // npm start gave the app its own identity; the operator's seed waits in the data dir.
      const operatorSeed = readFileSync(join(dataDir, 'nats-keys', 'operator.nk'), 'utf8').trim();
      expect(start.output()).toContain(
        `NATS_NKEY_SEED="$(cat ${join(dataDir, 'nats-keys', 'operator.nk')})"`,
      );
      expect(start.output()).not.toContain(operatorSeed);
      // …and beside it the URL of this NATS, so the operator CLI needs neither.
      const natsUrlFile = join(dataDir, 'nats-keys', 'nats-url');
      expect(readFileSync(natsUrlFile, 'utf8')).toBe(natsUrl);
      const operator = await connect({
        servers: natsUrl,
        authenticator: nkeyAuthenticator(new TextEncoder().encode(operatorSeed)),
        inboxPrefix: '_INBOX_operator',
      });
      try {
        const reply = await operator.request('rpc.billing.ping', '', { timeout: 5_000 });
        expect(reply.string()).toBe('pong from billing');
      } finally {
        await operator.close();
      }
      await expect(connect({ servers: natsUrl, reconnect: false })).rejects.toThrow(/Authorization/i);

      // Ctrl-C in a terminal signals the whole foreground process group.
      process.kill(-(start.child.pid ?? 0), 'SIGINT');
      expect(await start.exited).toEqual({ code: 0, signal: null });
      const output = start.output();
      expect(output).toContain('[billing] drained: 20 steps after SIGTERM, 0 failed');
      expect(output).not.toMatch(/ECONNREFUSED|drain step failed/);
      expect(output.indexOf('[billing] drained')).toBeLessThan(output.indexOf('stopping Postgres and NATS'));
      // A stopped stack leaves no URL behind for the CLI to try.
      expect(existsSync(natsUrlFile)).toBe(false);
      expect(await isListening(postgresPort)).toBe(false);
      expect(await isListening(natsPort)).toBe(false);
    } finally {
      if (start.child.exitCode === null && start.child.signalCode === null) {
        start.child.kill('SIGTERM');
        await start.exited;
      }
    }
  }, 180_000);

  it('says how to install nats-server when it is missing', async () => {
    const start = runStart(
      workDir,
      cleanEnv({ PATH: join(workDir, 'empty-path'), TESSERA_DATA_DIR: join(workDir, 'data-missing') }),
    );
    const exit = await start.exited;
    expect(exit.code).toBe(1);
    expect(start.output()).toContain('Install nats-server 2.10 or newer');
  }, 30_000);

  it('reuses NATS_URL and DATABASE_URL instead of starting servers, and stops on SIGTERM', async () => {
    const start = runStart(
      workDir,
      cleanEnv({
        NATS_URL: 'nats://127.0.0.1:1',
        DATABASE_URL: 'postgres://someone:secret@127.0.0.1:1/tessera',
        TESSERA_DATA_DIR: join(workDir, 'data-reuse'),
        TESSERA_APPS_DIR: join(workDir, 'no-apps'),
      }),
    );
    await start.waitFor(/\] ready: /, 30_000);
    const output = start.output();
    expect(output).toContain('NATS: using NATS_URL nats://127.0.0.1:1');
    expect(output).toContain('postgres://someone:***@127.0.0.1:1/tessera');
    expect(output).not.toContain('secret');
    expect(output).toContain('no apps built yet');
    start.child.kill('SIGTERM');
    expect(await start.exited).toEqual({ code: 0, signal: null });
    expect(existsSync(join(workDir, 'data-reuse'))).toBe(false);
  }, 30_000);
});
