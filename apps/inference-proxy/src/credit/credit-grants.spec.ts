import {
  ErrorCode,
  GrantCredit,
  SettleGrant,
  TesseraError,
  systemClock,
  type RpcRequestOf,
} from '@tessera/contracts';
import { type RpcClient } from '@tessera/platform/messaging';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { CreditGrants } from './credit-grants.js';

/**
 * Billing's grantCredit and settleGrant over a balance, as a stand-in for the RPC: grants what was
 * asked up to what is left, after a short delay (so concurrent requests pile up behind the call in
 * flight); a settle gives back what its usage did not spend.
 */
function billingWith(balance: bigint): {
  rpc: RpcClient;
  asked: bigint[];
  settled: string[];
  left(): bigint;
} {
  let left = balance;
  const asked: bigint[] = [];
  const settled: string[] = [];
  const granted = new Map<string, bigint>();
  const rpc = {
    call: async (contract: unknown, request: unknown) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (contract === SettleGrant) {
        const { grantId, usage } = request as RpcRequestOf<typeof SettleGrant>;
        const spent = usage.reduce((sum, item) => sum + BigInt(item.amount), 0n);
        left += (granted.get(grantId) ?? 0n) - spent;
        settled.push(grantId);
        return {};
      }
      if (contract !== GrantCredit) throw new Error('only grantCredit and settleGrant are expected');
      const { requested } = request as RpcRequestOf<typeof GrantCredit>;
      asked.push(BigInt(requested));
      const amount = BigInt(requested) < left ? BigInt(requested) : left;
      if (amount === 0n) throw new TesseraError(ErrorCode.InsufficientFunds, 'no funds');
      left -= amount;
      const grantId = `g${asked.length}`;
      granted.set(grantId, amount);
      return { grantId, granted: amount.toString(), expiresAt: new Date(Date.now() + 60_000).toISOString() };
    },
  } as unknown as RpcClient;
  return { rpc, asked, settled, left: () => left };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 30));

const grantsOver = (rpc: RpcClient) =>
  new CreditGrants({
    rpc,
    holder: 'proxy-test',
    target: 1_000_000n,
    lowWatermark: 0.25,
    idleAfterMs: 60_000,
    clock: systemClock,
    logger: pino({ level: 'silent' }),
  });

describe('CreditGrants', () => {
  it('reserves for a burst of 200 concurrent requests of a funded account: none refused', async () => {
    const billing = billingWith(1_000_000_000n);
    const grants = grantsOver(billing.rpc);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 200 }, () => grants.reserve('acct', 1_000n)),
    );
    expect(outcomes.filter((outcome) => outcome.status === 'rejected')).toEqual([]);
    // The waiting requests were counted into the grants asked for: a handful of calls, not one per request.
    expect(billing.asked.length).toBeLessThan(10);
  });

  it('refuses with INSUFFICIENT_FUNDS only what the balance cannot cover', async () => {
    const billing = billingWith(50_000n);
    const grants = grantsOver(billing.rpc);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 80 }, () => grants.reserve('acct', 1_000n)),
    );
    const accepted = outcomes.filter((outcome) => outcome.status === 'fulfilled').length;
    expect(accepted).toBe(50);
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected')
        expect((outcome.reason as TesseraError).code).toBe(ErrorCode.InsufficientFunds);
    }
  });

  it('turns a used grant over with the next one already in hand: no request waits between them', async () => {
    const billing = billingWith(1_000_000_000n);
    const grants = grantsOver(billing.rpc);
    const first = await grants.reserve('acct', 1_000n);
    first.settle('req-1', 600n, 'model');
    expect(first.grantId).toBe('g1');

    grants.settleDue(); // asks for the next grant; the used one stays open meanwhile
    expect((await grants.reserve('acct', 1_000n)).grantId).toBe('g1');
    await tick();
    expect(billing.asked).toHaveLength(2);
    expect(billing.settled).toEqual([]);

    grants.settleDue(); // the next grant is in: the used one is retired and, once free, settled
    const held = await grants.reserve('acct', 1_000n);
    expect(held.grantId).toBe('g2');
    expect(billing.asked).toHaveLength(2); // taken from the grant in hand, not asked for
    await tick();
    expect(billing.settled).toEqual([]); // the second request still holds part of g1
  });

  it('settles a retired grant as soon as its last request ends', async () => {
    const billing = billingWith(1_000_000_000n);
    const grants = grantsOver(billing.rpc);
    const first = await grants.reserve('acct', 1_000n);
    const inFlight = await grants.reserve('acct', 1_000n);
    first.settle('req-1', 600n, 'model');
    grants.settleDue();
    await tick();
    grants.settleDue(); // g1 retired, but a request still holds part of it
    await tick();
    expect(billing.settled).toEqual([]);
    inFlight.settle('req-2', 400n, 'model');
    await tick();
    expect(billing.settled).toEqual(['g1']);
  });

  it('settles first when the last grant came back short, so the last of a balance is never locked in a grant', async () => {
    const billing = billingWith(1_500n);
    const grants = grantsOver(billing.rpc);
    const only = await grants.reserve('acct', 1_000n); // asks 4,000, gets 1,500: short
    only.settle('req-1', 700n, 'model');
    grants.settleDue();
    // Settled before any new grant is asked for: its 800 unspent go back to the balance first.
    expect(billing.asked).toHaveLength(1);
    await tick();
    expect(billing.settled).toEqual(['g1']);
    await tick();
    expect(billing.asked).toHaveLength(2);
    // The next request is covered by the money that came back.
    expect((await grants.reserve('acct', 500n)).grantId).toBe('g2');
    expect(billing.left()).toBe(0n);
  });
});
