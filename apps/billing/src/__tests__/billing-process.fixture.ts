/** Billing (and test helpers) as real processes: started, watched, killed with a signal. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Streams, type StreamDeclaration } from '@tessera/contracts';
import { findFreePort } from '@tessera/devservers';
import { type EventStore } from '@tessera/eventstore';
import { eventually, type TestEnvironment } from '@tessera/testkit';
import { DataSource } from 'typeorm';
import { CONSUMERS, billingEnv } from './billing-app.fixture.js';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

/** A running child process whose output the test can read. */
export interface ChildHandle {
  readonly child: ChildProcess;
  output(): string;
  /** JSON log lines (pino) the process wrote so far. */
  logLines(): Record<string, unknown>[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

function watch(child: ChildProcess): ChildHandle {
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    output: () => output,
    logLines: () =>
      output
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .flatMap((line) => {
          try {
            return [JSON.parse(line) as Record<string, unknown>];
          } catch {
            return [];
          }
        }),
    exited,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** A billing process (the built `dist/main.js`) on the test's servers. */
export interface BillingProcess extends ChildHandle {
  readonly port: number;
  waitUntilReady(timeoutMs?: number): Promise<void>;
}

export async function startBillingProcess(
  env: TestEnvironment,
  extra: Record<string, string> = {},
): Promise<BillingProcess> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build @tessera/billing first`);
  const port = await findFreePort();
  const handle = watch(
    spawn(process.execPath, [MAIN], {
      env: {
        PATH: process.env['PATH'] ?? '',
        ...billingEnv(env, { HTTP_PORT: String(port), LOG_LEVEL: 'warn', ...extra }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  return {
    ...handle,
    port,
    async waitUntilReady(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (handle.child.exitCode !== null || handle.child.signalCode !== null)
          throw new Error(`billing exited before it was ready:\n${handle.output()}`);
        const ready = await fetch(`http://127.0.0.1:${port}/health/ready`).then(
          (response) => response.status === 200,
          () => false,
        );
        if (ready) return;
        if (Date.now() > deadline)
          throw new Error(`billing not ready after ${timeoutMs} ms:\n${handle.output()}`);
        await new Promise((wake) => setTimeout(wake, 100));
      }
    },
  };
}

/** Runs a TypeScript file of the tests as its own node process (through tsx). */
export function startTsProcess(
  file: URL,
  args: readonly string[],
  env: Record<string, string> = {},
): ChildHandle {
  return watch(
    spawn(process.execPath, ['--import', 'tsx', fileURLToPath(file), ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

/** A data source on the test's billing schema, to read what billing processes wrote. */
export async function billingSchemaDataSource(env: TestEnvironment): Promise<DataSource> {
  const dataSource = new DataSource({
    type: 'postgres',
    url: env.databaseUrl,
    schema: env.schema,
    extra: { options: `-c search_path=${env.schema}` },
    entities: [],
  });
  return dataSource.initialize();
}

/**
 * Waits until every billing consumer's committed checkpoint (in Postgres: whichever process is
 * active) covers the last message of its stream, and the streams stopped growing.
 */
export async function waitForCheckpoints(
  dataSource: DataSource,
  store: EventStore,
  timeoutMs = 120_000,
): Promise<void> {
  const streams = {
    'billing-deposit-crediting': Streams.CHAIN,
    'billing-request-charging': Streams.INFERENCE,
  };
  const streamOf = (name: string): StreamDeclaration =>
    (streams as Record<string, StreamDeclaration | undefined>)[name] ?? Streams.BILLING;
  const heads = async (): Promise<Record<string, number>> => {
    const entries = await Promise.all(
      CONSUMERS.map(async (name) => [name, await store.lastSequence(streamOf(name)).catch(() => 0)] as const),
    );
    return Object.fromEntries(entries);
  };
  await eventually(
    async () => {
      const before = await heads();
      const rows = (await dataSource.query(
        'SELECT projection, sequence::int AS sequence FROM projection_checkpoints',
      )) as {
        projection: string;
        sequence: number;
      }[];
      const at = new Map(rows.map((row) => [row.projection, row.sequence]));
      const caughtUp = CONSUMERS.every((name) => (at.get(name) ?? 0) >= (before[name] ?? 0));
      return caughtUp && JSON.stringify(await heads()) === JSON.stringify(before);
    },
    'billing consumers caught up',
    { timeoutMs },
  );
}
