import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  CreditAccount,
  GrantCredit,
  OpenAccount,
  RequestCompleted,
  SetModelPrice,
  streamIdOf,
} from '@tessera/contracts';
import { useTestEnvironment, type TestEnvironment } from '@tessera/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountStreamId } from './accounts/account.service.js';
import { billingEnv, outside, publish, type Outside } from './__tests__/billing-app.fixture.js';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const REQUESTS = 1_500;

function startChild(env: TestEnvironment): ChildProcess {
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, ...billingEnv(env, { LOG_LEVEL: 'error' }) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return child;
}

async function until(condition: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('kill -9 of billing in the middle of a charging load', () => {
  let env: TestEnvironment;
  let ext: Outside;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build @tessera/billing first`);
    env = await useTestEnvironment();
    ext = await outside(env);
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await ext?.close();
    await env?.cleanup();
  });

  it('loses no posting and doubles none after a restart', async () => {
    child = startChild(env);
    await until(async () =>
      ext.rpc
        .call(SetModelPrice, {
          model: 'm',
          inputNanoUsdPerMillion: '1000000',
          outputNanoUsdPerMillion: '3000000',
        })
        .then(
          () => true,
          () => false,
        ),
    );
    await ext.rpc.call(OpenAccount, { accountId: 'crash', name: 'Crash' });
    await ext.rpc.call(CreditAccount, {
      accountId: 'crash',
      idempotencyKey: 'seed',
      amount: '1000000000000',
    });
    const grant = await ext.rpc.call(GrantCredit, {
      accountId: 'crash',
      holder: 'proxy-1',
      requested: '500000000000',
    });
    // Each request: 1,000 prompt tokens at $0.001/M + 1,000 completion at $0.003/M = 4,000 nano-USD.
    await Promise.all(
      Array.from({ length: REQUESTS }, (_, i) =>
        publish(
          ext.store,
          streamIdOf('inference', 'request', `c-${i}`),
          RequestCompleted.create({
            requestId: `c-${i}`,
            accountId: 'crash',
            keyId: 'abcdefghij012345',
            model: 'm',
            promptTokens: 1_000,
            completionTokens: 1_000,
            streamed: i % 2 === 0,
            grantId: grant.grantId,
            minerHotkey: null,
            instanceId: null,
            latency: { firstTokenMs: null, totalMs: 10 },
            status: 'succeeded',
          }),
        ),
      ),
    );
    const stream = accountStreamId('crash');
    // Kill it while charges are being written.
    await until(async () => (await ext.store.currentPosition(stream)).version > 200);
    const killed = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGKILL');
    await killed;
    const atKill = (await ext.store.currentPosition(stream)).version;
    expect(atKill).toBeLessThan(REQUESTS + 5);

    child = startChild(env);
    const charges = async () =>
      (await ext.store.readStream(stream)).events.filter((event) => event.type === 'billing.UsageCharged');
    await until(async () => (await charges()).length >= REQUESTS, 90_000);
    // Give a would-be duplicate time to show up: the consumer must have nothing left to deliver.
    const client = new pg.Client({ connectionString: env.databaseUrl });
    await client.connect();
    try {
      await until(async () => {
        const { rows } = await client.query<{ n: string }>(
          `SELECT count(*)::text AS n FROM "${env.schema}".billing_ledger_entries WHERE event_type = 'billing.UsageCharged'`,
        );
        return rows[0]?.n === String(REQUESTS * 2);
      }, 60_000);
      const all = await charges();
      const ids = new Set(all.map((event) => (event.data as { requestId: string }).requestId));
      expect(all).toHaveLength(REQUESTS);
      expect(ids.size).toBe(REQUESTS);
      const { rows } = await client.query<{ account: string; balance: string }>(
        `SELECT ledger_account AS account, balance::text AS balance FROM "${env.schema}".billing_ledger_balances`,
      );
      const balances = Object.fromEntries(rows.map((row) => [row.account, row.balance]));
      expect(balances['platform:revenue:inference']).toBe(String(REQUESTS * 4_000));
      expect(balances[`grant:${grant.grantId}`]).toBe(String(500_000_000_000 - REQUESTS * 4_000));
      expect(rows.reduce((sum, row) => sum + BigInt(row.balance), 0n)).toBe(0n);
    } finally {
      await client.end();
    }
  });
});
