// Runs the real `npm start` entry point (tools/start/start.js) against a temporary data
// directory and temporary apps, with real nats-server and Postgres processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, isListening } from '../src/ports.js';

const startScript = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'start.js');

interface Started {
  child: ChildProcess;
  output: () => string;
  waitFor: (pattern: RegExp, timeoutMs: number) => Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function runStart(cwd: string, env: NodeJS.ProcessEnv): Started {
  const child = spawn(process.execPath, [startScript], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
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

/** A NATS server greets with INFO and answers PING with PONG once CONNECT is sent. */
function natsHandshake(port: number): Promise<{ info: Record<string, unknown> }> {
  return new Promise((resolveHandshake, reject) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    let received = '';
    let info: Record<string, unknown> | undefined;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no NATS handshake on ${port}: ${received}`));
    }, 5000);
    socket.on('data', (chunk) => {
      received += chunk.toString('utf8');
      const infoLine = received.match(/^INFO (\{.*\}) *\r\n/);
      if (infoLine?.[1] && !info) {
        info = JSON.parse(infoLine[1]) as Record<string, unknown>;
        socket.write('CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n');
      }
      if (info && received.includes('PONG\r\n')) {
        clearTimeout(timer);
        socket.destroy();
        resolveHandshake({ info });
      }
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Environment for start.js without anything from the developer's shell that would change its behaviour. */
function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) {
    if (/^(NATS_|DATABASE_URL|POSTGRES_PORT|TESSERA_|HTTP_PORT)/.test(key) || key.endsWith('_HTTP_PORT'))
      delete env[key];
  }
  return { ...env, ...extra };
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

      const { info } = await natsHandshake(natsPort);
      expect(info['jetstream']).toBe(true);

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

  it('says how to install nats-server when it is missing', async () => {
    const start = runStart(
      workDir,
      cleanEnv({ PATH: join(workDir, 'empty-path'), TESSERA_DATA_DIR: join(workDir, 'data-missing') }),
    );
    const exit = await start.exited;
    expect(exit.code).toBe(1);
    expect(start.output()).toContain('sudo apt-get install -y nats-server');
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
