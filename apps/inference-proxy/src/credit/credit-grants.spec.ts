import { ErrorCode, GrantCredit, TesseraError, systemClock, type RpcRequestOf } from '@tessera/contracts';
import { type RpcClient } from '@tessera/platform/messaging';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { CreditGrants } from './credit-grants.js';

/**
 * Billing's grantCredit over a balance, as a stand-in for the RPC: grants what was asked up to
 * what is left, after a short delay (so concurrent requests pile up behind the call in flight).
 */
function billingWith(balance: bigint): { rpc: RpcClient; asked: bigint[] } {
  let left = balance;
  const asked: bigint[] = [];
  const rpc = {
    call: async (contract: unknown, request: RpcRequestOf<typeof GrantCredit>) => {
      if (contract !== GrantCredit) throw new Error('only grantCredit is expected');
      asked.push(BigInt(request.requested));
      await new Promise((resolve) => setTimeout(resolve, 5));
      const granted = BigInt(request.requested) < left ? BigInt(request.requested) : left;
      if (granted === 0n) throw new TesseraError(ErrorCode.InsufficientFunds, 'no funds');
      left -= granted;
      return {
        grantId: `g${asked.length}`,
        granted: granted.toString(),
        expiresAt: new Date(Date.now() + 60_000).toISOString(),
      };
    },
  } as unknown as RpcClient;
  return { rpc, asked };
}

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
});
