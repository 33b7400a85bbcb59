import { type INestApplication } from '@nestjs/common';
import { CreditAccount, GrantCredit, OpenAccount, SettleGrant, isTesseraError } from '@tessera/contracts';
import { useTestEnvironment, type TestEnvironment } from '@tessera/testkit';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { accountDecider } from './accounts/account.decider.js';
import { accountStreamId } from './accounts/account.service.js';
import { AggregateCache } from '@tessera/eventstore';
import {
  assertLedgerBalanced,
  dataSourceOf,
  ledgerBalances,
  outside,
  startBilling,
  waitForIdle,
  type Outside,
} from './__tests__/billing-app.fixture.js';

const CENTS_10 = 100_000_000n; // $0.10 in nano-USD
const FIVE_DOLLARS = 5_000_000_000n;

describe('bank test: four proxy holders race 1,000 charges of $0.10 against $5.00', () => {
  let env: TestEnvironment;
  let app: INestApplication;
  let ext: Outside;

  beforeAll(async () => {
    env = await useTestEnvironment();
    app = await startBilling(env);
    ext = await outside(env);
  });

  afterEach(async () => {
    await waitForIdle(app);
    await assertLedgerBalanced(dataSourceOf(app));
  });

  afterAll(async () => {
    await ext?.close();
    await app?.close();
    await env?.cleanup();
  });

  it('accepts at most 50, never goes below zero, ends at exactly $5.00 − $0.10 × accepted', async () => {
    await ext.rpc.call(OpenAccount, { accountId: 'bank', name: 'Bank test' });
    await ext.rpc.call(CreditAccount, {
      accountId: 'bank',
      idempotencyKey: 'seed',
      amount: FIVE_DOLLARS.toString(),
    });

    // Holders 1 and 2 go through the service's RPC; holders 3 and 4 write the account stream through
    // a second, independent aggregate cache — another billing replica — so optimistic concurrency
    // on the stream, not the in-process queue, is what keeps them apart.
    const otherReplica = new AggregateCache(ext.store, accountDecider);
    const chargeViaRpc = async (holder: string, requestId: string): Promise<boolean> => {
      try {
        const grant = await ext.rpc.call(GrantCredit, {
          accountId: 'bank',
          holder,
          requested: CENTS_10.toString(),
        });
        expect(grant.granted).toBe(CENTS_10.toString());
        await ext.rpc.call(SettleGrant, {
          grantId: grant.grantId,
          usage: [{ requestId, amount: CENTS_10.toString() }],
        });
        return true;
      } catch (err) {
        if (isTesseraError(err, 'INSUFFICIENT_FUNDS')) return false;
        throw err;
      }
    };
    const chargeViaReplica = async (holder: string, requestId: string): Promise<boolean> => {
      const grantId = `bank:${uuidv7()}`;
      try {
        await otherReplica.execute(accountStreamId('bank'), {
          kind: 'grant',
          accountId: 'bank',
          grantId,
          idempotencyKey: grantId,
          holder,
          requested: CENTS_10,
          expiresAt: new Date(Date.now() + 60_000),
        });
      } catch (err) {
        if (isTesseraError(err, 'INSUFFICIENT_FUNDS')) return false;
        throw err;
      }
      await otherReplica.execute(accountStreamId('bank'), {
        kind: 'settle',
        accountId: 'bank',
        grantId,
        usage: [{ requestId, amount: CENTS_10, item: 'usage' }],
        day: new Date().toISOString().slice(0, 10),
        dailyAllowance: 0n,
        now: new Date(),
      });
      return true;
    };

    const holders = [
      { name: 'proxy-1', charge: chargeViaRpc },
      { name: 'proxy-2', charge: chargeViaRpc },
      { name: 'proxy-3', charge: chargeViaReplica },
      { name: 'proxy-4', charge: chargeViaReplica },
    ];
    const IN_FLIGHT_PER_HOLDER = 8;
    const results = await Promise.all(
      holders.map(async (holder, h) => {
        let accepted = 0;
        await Promise.all(
          Array.from({ length: IN_FLIGHT_PER_HOLDER }, async (_, lane) => {
            for (let i = lane; i < 250; i += IN_FLIGHT_PER_HOLDER) {
              if (await holder.charge(holder.name, `h${h}-r${i}`)) accepted += 1;
            }
          }),
        );
        return accepted;
      }),
    );
    const accepted = results.reduce((sum, n) => sum + n, 0);
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThanOrEqual(50);

    // Fold the authoritative stream: the balance is never negative after any event.
    const { events } = await ext.store.readStream(accountStreamId('bank'));
    let state = accountDecider.initialState();
    let charged = 0n;
    for (const event of events) {
      state = accountDecider.evolve(state, event);
      expect(state.balance).toBeGreaterThanOrEqual(0n);
      if (event.type === 'billing.UsageCharged') charged += BigInt((event.data as { amount: string }).amount);
    }
    expect(state.balance).toBe(FIVE_DOLLARS - CENTS_10 * BigInt(accepted));
    expect(charged).toBe(CENTS_10 * BigInt(accepted));
    expect(state.held).toBe(0n);

    await waitForIdle(app);
    const balances = await ledgerBalances(dataSourceOf(app));
    expect(balances['customer:bank']).toBe((FIVE_DOLLARS - CENTS_10 * BigInt(accepted)).toString());
    expect(balances['platform:revenue:inference']).toBe((CENTS_10 * BigInt(accepted)).toString());
  });
});
