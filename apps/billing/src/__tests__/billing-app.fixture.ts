/** Starts billing in-process against the test run's NATS and Postgres, with helpers the specs share. */
import { Writable } from 'node:stream';
import { type INestApplication } from '@nestjs/common';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  EventRegistry,
  ReconcileBilling,
  TesseraError,
  eventContracts,
  type RpcContract,
  type WireError,
  type Clock,
  type PendingEvent,
  type RpcResponseOf,
} from '@tessera/contracts';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConsumerRunner, EventStore, isUnavailable } from '@tessera/eventstore';
import { createApp } from '@tessera/platform';
import { ProjectionHost, RpcClient } from '@tessera/platform/messaging';
import { type TestEnvironment } from '@tessera/testkit';
import { expect } from 'vitest';
import { DataSource } from 'typeorm';
import pg from 'pg';
import { BillingModule, billingProjections } from '../app.module.js';
import { billingMigrations } from '../database/billing.migrations.js';
import { billingUpcasters } from '../ledger/ledger-upcasters.js';

/** Every consumer billing runs: three read models and two reactors. */
export const CONSUMERS = [
  'billing-directory',
  'billing-ledger',
  'billing-usage-daily',
  'billing-deposit-crediting',
  'billing-request-charging',
];

export function billingEnv(env: TestEnvironment, extra: Record<string, string> = {}): Record<string, string> {
  return {
    SERVICE_NAME: 'billing',
    NODE_ENV: 'test',
    NATS_URL: env.natsUrl,
    NATS_SUBJECT_PREFIX: env.namespace,
    CONSUMER_LEASE_TTL_MS: '1500',
    DATABASE_URL: env.databaseUrl,
    DATABASE_SCHEMA: env.schema,
    HTTP_PORT: '0',
    LOG_LEVEL: 'warn',
    API_KEY_PEPPER: 'test-pepper-0123456789',
    DEPOSIT_SEED: '//TesseraTestSeed',
    MIN_DEPOSIT_RAO: '1000000',
    ...extra,
  };
}

export async function startBilling(
  env: TestEnvironment,
  options: { clock?: Clock; extraEnv?: Record<string, string> } = {},
): Promise<INestApplication> {
  const silent = new Writable({ write: (_chunk, _encoding, done) => done() });
  return createApp(
    BillingModule.forRoot({
      env: billingEnv(env, options.extraEnv),
      logging: { destination: silent },
      ...(options.clock ? { clock: options.clock } : {}),
    }),
    { logger: false },
  );
}

/** The test's own view: a NATS connection, an RPC client, an event store to publish chain/inference events. */
export interface Outside {
  nc: NatsConnection;
  rpc: RpcClient;
  store: EventStore;
  /**
   * Sends `body` to a contract's subject as raw JSON, past the client's own validation, so the
   * service's answer to bad input is what is tested; resolves with the result or rejects with the
   * typed error from the reply.
   */
  raw(contract: RpcContract, body: unknown): Promise<unknown>;
  close(): Promise<void>;
}

export async function outside(
  env: TestEnvironment,
  options: { streamReplicas?: number } = {},
): Promise<Outside> {
  const nc = await connect({ ...env.natsConnectionOptions, noAsyncTraces: true });
  const store = new EventStore({
    connection: nc,
    registry: new EventRegistry(eventContracts),
    upcasters: billingUpcasters,
    namespace: env.namespace,
    defaultActor: 'service:test',
    streams: { replicas: options.streamReplicas ?? 1 },
  });
  await store.ensureStreams();
  return {
    nc,
    rpc: new RpcClient(nc, { subjectPrefix: env.namespace, defaultTimeoutMs: 15_000 }),
    store,
    async raw(contract, body) {
      const reply = await nc.request(`${env.namespace}.${contract.subject}`, JSON.stringify(body), {
        timeout: 30_000,
      });
      const parsed = JSON.parse(new TextDecoder().decode(reply.data)) as {
        ok: boolean;
        result?: unknown;
        error?: WireError;
      };
      if (parsed.ok) return parsed.result;
      throw TesseraError.fromWire(parsed.error ?? { code: 'INTERNAL', message: 'reply without an error' });
    },
    close: () => nc.close(),
  };
}

export function publish(store: EventStore, streamId: string, event: PendingEvent): Promise<unknown> {
  return store.append(streamId, [event]);
}

/**
 * Waits until every billing consumer's committed checkpoint covers the last message of its
 * stream that it reads — not until "nothing is pending", which is true before the commit — and
 * the streams stopped growing (a reactor's commands feed the projections).
 */
export async function waitForIdle(app: INestApplication, timeoutMs = 30_000): Promise<void> {
  const host = app.get(ProjectionHost);
  const store = app.get(EventStore);
  const deadline = Date.now() + timeoutMs;
  // Right after a fault the stream may still be electing a leader: its head is asked again.
  const heads = async (): Promise<string> => {
    for (;;) {
      try {
        return (
          await Promise.all(host.all().map((runner) => store.lastSequence(runner.definition.stream)))
        ).join(',');
      } catch (error) {
        if (!isUnavailable(error) || Date.now() > deadline) throw error;
        await sleep(250);
      }
    }
  };
  for (;;) {
    const before = await heads();
    for (const runner of host.all()) await runner.waitUntilCaughtUp(Math.max(1, deadline - Date.now()));
    if ((await heads()) === before) return;
    if (Date.now() > deadline) throw new Error(`billing consumers still busy after ${timeoutMs} ms`);
  }
}

/** Each unit's ledger balances sum to zero; entries sum to zero; no customer or grant below zero. */
export async function assertLedgerBalanced(dataSource: DataSource): Promise<void> {
  const [sums] = (await dataSource.query(
    `SELECT coalesce(sum(balance) FILTER (WHERE ledger_account NOT LIKE 'tao:%'), 0)::text AS nano_usd,
            coalesce(sum(balance) FILTER (WHERE ledger_account LIKE 'tao:%'), 0)::text AS rao,
            (SELECT coalesce(sum(change), 0)::text FROM billing_ledger_entries) AS entries,
            (SELECT count(*)::int FROM billing_ledger_balances
              WHERE balance < 0 AND (ledger_account LIKE 'customer:%' OR ledger_account LIKE 'grant:%')) AS negative
       FROM billing_ledger_balances`,
  )) as { nano_usd: string; rao: string; entries: string; negative: number }[];
  expect(sums).toEqual({ nano_usd: '0', rao: '0', entries: '0', negative: 0 });
}

/** Runs the reconciliation (item 9 of the money issue) and expects it clean. */
export async function assertReconciled(rpc: RpcClient): Promise<RpcResponseOf<typeof ReconcileBilling>> {
  const report = await rpc.call(ReconcileBilling, {}, { timeoutMs: 90_000 });
  expect(report.mismatches).toEqual([]);
  expect(report.consistent).toBe(true);
  return report;
}

export async function ledgerBalances(dataSource: DataSource): Promise<Record<string, string>> {
  const rows = (await dataSource.query(
    'SELECT ledger_account, balance::text AS balance FROM billing_ledger_balances ORDER BY ledger_account',
  )) as { ledger_account: string; balance: string }[];
  return Object.fromEntries(rows.map((row) => [row.ledger_account, row.balance]));
}

export function consumers(app: INestApplication): ProjectionHost {
  return app.get(ProjectionHost);
}

export function dataSourceOf(app: INestApplication): DataSource {
  return app.get(DataSource);
}

/** A 0x-prefixed 32-byte hash made from a number, for block hashes. */
export function blockHash(n: number): string {
  return `0x${n.toString(16).padStart(64, '0')}`;
}

/** Every row of every billing read model, in a stable order (ledger entries without their serial id). */
export async function readModelRows(dataSource: DataSource): Promise<Record<string, unknown>> {
  const queries: Record<string, string> = {
    accounts: 'SELECT * FROM billing_accounts ORDER BY account_id',
    apiKeys: 'SELECT * FROM billing_api_keys ORDER BY key_id',
    grants: 'SELECT * FROM billing_grants ORDER BY grant_id',
    depositAddresses: 'SELECT address, account_id FROM billing_deposit_addresses ORDER BY address',
    balances: 'SELECT * FROM billing_ledger_balances ORDER BY ledger_account',
    entries:
      'SELECT entry_key, ledger_account, counterparty, change, balance_after, event_type, idempotency_key, occurred_at FROM billing_ledger_entries ORDER BY id',
    suspended: 'SELECT * FROM billing_suspended_deposits ORDER BY deposit_key',
    usage: 'SELECT * FROM billing_usage_daily ORDER BY account_id, day, product, item',
  };
  const rows: Record<string, unknown> = {};
  for (const [name, sql] of Object.entries(queries)) rows[name] = await dataSource.query(sql);
  return rows;
}

/**
 * The read models one billing process alone builds from the streams as they are now: every
 * projection run from sequence 1 into a fresh schema (no lease, no reactors), then read back.
 * What a run with replicas, crashes or outages must equal.
 */
export async function readModelsBuiltAlone(
  env: TestEnvironment,
  connection: NatsConnection,
): Promise<Record<string, unknown>> {
  const schema = `${env.schema}_alone`;
  const admin = new pg.Client({ connectionString: env.databaseUrl });
  await admin.connect();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  const dataSource = new DataSource({
    type: 'postgres',
    url: env.databaseUrl,
    schema,
    extra: { options: `-c search_path=${schema}` },
    entities: [],
    migrations: billingMigrations,
  });
  try {
    await dataSource.initialize();
    await dataSource.runMigrations();
    const store = new EventStore({
      connection,
      registry: new EventRegistry(eventContracts),
      upcasters: billingUpcasters,
      namespace: env.namespace,
    });
    const runners = billingProjections.map(
      (projection) =>
        new ConsumerRunner({ store, dataSource, role: { kind: 'projection', projection }, lease: false }),
    );
    await Promise.all(runners.map((runner) => runner.start()));
    await Promise.all(runners.map((runner) => runner.waitUntilCaughtUp(120_000)));
    await Promise.all(runners.map((runner) => runner.stop()));
    return await readModelRows(dataSource);
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
    await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
    await admin.end();
  }
}
