import { CreditAccount, OpenAccount, UsageCharged } from '@tessera/contracts';
import { useTestEnvironment, type TestEnvironment } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccountDecider } from './accounts/account.decider.js';
import { accountStreamId } from './accounts/account.service.js';
import {
  startBillingProcess,
  startTsProcess,
  type BillingProcess,
  type ChildHandle,
} from './__tests__/billing-process.fixture.js';
import {
  assertReconciled,
  outside,
  readModelsBuiltAlone,
  type Outside,
} from './__tests__/billing-app.fixture.js';

const TEN_CENTS = 100_000_000n; // nano-USD
const FIVE_DOLLARS = 5_000_000_000n;
const HOLDERS = 4;
const CHARGES = 1_000;
/**
 * What a replica logs when the other one wrote the account since it last looked: its append lost
 * the race, or it refused on its stale state; either way it decided again on fresh state.
 */
const RACE_LOGS = new Set([
  'account moved under this replica; deciding again',
  'refused on a stale cache; deciding again',
]);

describe('bank test: 4 holder processes race 1,000 charges of $0.10 against $5.00 on 2 billing processes', () => {
  let env: TestEnvironment;
  let ext: Outside;
  const billing: BillingProcess[] = [];
  const holders: ChildHandle[] = [];

  beforeAll(async () => {
    env = await useTestEnvironment();
    ext = await outside(env);
    // Debug logs carry the races each replica lost (and then decided again on fresh state).
    for (let i = 0; i < 2; i += 1) billing.push(await startBillingProcess(env, { LOG_LEVEL: 'debug' }));
    await Promise.all(billing.map((process) => process.waitUntilReady()));
  });

  afterAll(async () => {
    await Promise.all([...holders, ...billing].map((child) => child.kill('SIGKILL')));
    await ext?.close();
    await env?.cleanup();
  });

  it('accepts exactly 50, never goes below zero, ends at exactly $0; the replicas really raced', async () => {
    await ext.rpc.call(OpenAccount, { accountId: 'bank', name: 'Bank test' });
    await ext.rpc.call(CreditAccount, {
      accountId: 'bank',
      idempotencyKey: 'seed',
      amount: FIVE_DOLLARS.toString(),
    });

    for (let h = 0; h < HOLDERS; h += 1) {
      holders.push(
        startTsProcess(new URL('./__tests__/bank-holder.child.ts', import.meta.url), [
          env.natsUrl,
          env.namespace,
          `proxy-${h}`,
          'bank',
          TEN_CENTS.toString(),
          String(CHARGES / HOLDERS),
          '16',
        ]),
      );
    }
    const results = await Promise.all(
      holders.map(async (holder) => {
        const { code } = await holder.exited;
        expect(code, holder.output()).toBe(0);
        return JSON.parse(holder.output().trim().split('\n').at(-1) ?? '{}') as {
          accepted: number;
          refused: number;
        };
      }),
    );
    const accepted = results.reduce((sum, result) => sum + result.accepted, 0);
    const refused = results.reduce((sum, result) => sum + result.refused, 0);
    expect(accepted).toBe(50);
    expect(accepted + refused).toBe(CHARGES);

    // Fold the authoritative stream: the balance is never negative after any event.
    const decider = createAccountDecider({ idempotencyRetentionMs: 7 * 24 * 3_600_000 });
    const { events } = await ext.store.readStream(accountStreamId('bank'));
    let state = decider.initialState();
    let charged = 0n;
    for (const event of events) {
      state = decider.evolve(state, event);
      expect(state.balance).toBeGreaterThanOrEqual(0n);
      if (UsageCharged.is(event)) charged += BigInt(event.data.amount);
    }
    expect(state).toMatchObject({ balance: 0n, held: 0n, owed: 0n });
    expect(charged).toBe(TEN_CENTS * 50n);

    // Both replicas served calls and wrote the one account stream: each saw the other's writes.
    const races = billing.map(
      (process) => process.logLines().filter((line) => RACE_LOGS.has(String(line['msg']))).length,
    );
    console.log(`bank test: ${accepted} accepted, ${refused} refused, races per replica ${races.join(', ')}`);
    expect(races.reduce((sum, n) => sum + n, 0)).toBeGreaterThan(0);

    const report = await assertReconciled(ext.rpc);
    expect(report.accounts).toBe(1);
    const alone = await readModelsBuiltAlone(env, ext.nc);
    const balances = alone['balances'] as { ledger_account: string; balance: string }[];
    expect(balances.find((row) => row.ledger_account === 'customer:bank')?.balance).toBe('0');
    expect(balances.find((row) => row.ledger_account === 'platform:revenue:inference')?.balance).toBe(
      (TEN_CENTS * 50n).toString(),
    );
  });
});
