import { type Event, type PendingEvent } from '@tessera/contracts';
import { describe, expect, it } from 'vitest';
import { accountDecider, type AccountCommand } from './account.decider.js';
import { type AccountState } from './account.state.js';

const NOW = new Date('2025-01-01T12:00:00.000Z');
const ADDRESS = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY';
const GRANT = 'acme:01942f00-0000-7000-8000-000000000001';

/** Turns pending events into stored-looking ones so `evolve` can fold them. */
function stored(pending: readonly PendingEvent[], from = 1): Event[] {
  return pending.map((event, index) => ({
    id: `00000000-0000-7000-8000-${String(from + index).padStart(12, '0')}`,
    type: event.type,
    version: event.version,
    streamId: 'billing.account.acme',
    sequence: from + index,
    occurredAt: NOW.toISOString(),
    correlationId: 'test',
    causationId: null,
    traceparent: null,
    actor: 'service:test',
    data: event.data,
  }));
}

/** given(commands…) → the state after deciding and evolving each in turn. */
function given(...commands: AccountCommand[]): AccountState {
  let state = accountDecider.initialState();
  for (const command of commands) {
    for (const event of stored(accountDecider.decide(command, state)))
      state = accountDecider.evolve(state, event);
  }
  return state;
}

const open: AccountCommand = { kind: 'open', accountId: 'acme', name: 'Acme', depositAddress: ADDRESS };
const credit = (amount: bigint, key = 'seed'): AccountCommand => ({
  kind: 'credit',
  accountId: 'acme',
  idempotencyKey: key,
  amount,
  reason: '',
});
const grant = (requested: bigint, grantId = GRANT): AccountCommand => ({
  kind: 'grant',
  accountId: 'acme',
  grantId,
  idempotencyKey: grantId,
  holder: 'proxy-1',
  requested,
  expiresAt: new Date(NOW.getTime() + 60_000),
});
const settle = (amounts: bigint[], now = NOW): AccountCommand => ({
  kind: 'settle',
  accountId: 'acme',
  grantId: GRANT,
  usage: amounts.map((amount, i) => ({ requestId: `r${i}`, amount, item: 'usage' })),
  day: '2025-01-01',
  dailyAllowance: 0n,
  now,
});

describe('account decider', () => {
  it('grants no more than the balance, and refuses when the balance is zero', () => {
    const state = given(open, credit(300n), grant(500n));
    expect(state.balance).toBe(0n);
    expect(state.held).toBe(300n);
    expect(() =>
      accountDecider.decide(grant(1n, 'acme:01942f00-0000-7000-8000-000000000002'), state),
    ).toThrow(expect.objectContaining({ code: 'INSUFFICIENT_FUNDS' }));
  });

  it('settles usage from the grant and returns the remainder; refuses a settle larger than the grant', () => {
    const state = given(open, credit(1_000n), grant(400n));
    expect(() => accountDecider.decide(settle([300n, 101n]), state)).toThrow(
      expect.objectContaining({ code: 'billing.SETTLE_EXCEEDS_GRANT' }),
    );
    const after = given(open, credit(1_000n), grant(400n), settle([300n]));
    expect(after).toMatchObject({ balance: 700n, held: 0n });
  });

  it('refuses to settle an expired grant, and expiry returns its remainder once', () => {
    const state = given(open, credit(1_000n), grant(400n));
    const late = new Date(NOW.getTime() + 60_000);
    expect(() => accountDecider.decide(settle([1n], late), state)).toThrow(
      expect.objectContaining({ code: 'billing.GRANT_EXPIRED' }),
    );
    const expire: AccountCommand = { kind: 'expireGrant', accountId: 'acme', grantId: GRANT, now: late };
    const expired = given(open, credit(1_000n), grant(400n), expire);
    expect(expired).toMatchObject({ balance: 1_000n, held: 0n });
    expect(accountDecider.decide(expire, expired)).toEqual([]);
  });

  it('treats a repeated idempotency key with the same content as a no-op and different content as a typed error', () => {
    const state = given(open, credit(100n, 'k'));
    expect(accountDecider.decide(credit(100n, 'k'), state)).toEqual([]);
    expect(() => accountDecider.decide(credit(101n, 'k'), state)).toThrow(
      expect.objectContaining({ code: 'IDEMPOTENCY_MISMATCH' }),
    );
  });

  it('credits a deposit once per chain position and records dust without crediting it', () => {
    const deposit = (eventIndex: number, amountRao: bigint): AccountCommand => ({
      kind: 'creditDeposit',
      accountId: 'acme',
      deposit: { blockHash: `0x${'1'.repeat(64)}`, blockNumber: 5, eventIndex, from: ADDRESS, amountRao },
      minimumRao: 1_000n,
      taoPrice: { nanoUsdPerTao: 400_000_000_000n, priceVersion: 7 },
    });
    const state = given(open, deposit(1, 1_000_000_000n), deposit(1, 1_000_000_000n), deposit(2, 999n));
    expect(state.balance).toBe(400_000_000_000n);
    expect(accountDecider.decide(deposit(1, 1_000_000_000n), state)).toEqual([]);
  });

  it('uses the daily free allowance before the balance, and caps an event-driven charge at what is there', () => {
    const charge = (requestId: string, amount: bigint, overdraft: 'cap' | 'refuse'): AccountCommand => ({
      kind: 'charge',
      accountId: 'acme',
      charge: {
        requestId,
        grantId: null,
        product: 'inference',
        item: 'm',
        promptTokens: 1,
        completionTokens: 1,
        gpuSeconds: 0,
        priceVersion: 1,
        amount,
        day: '2025-01-01',
      },
      dailyAllowance: 50n,
      overdraft,
      fingerprint: undefined,
    });
    const state = given(open, credit(100n), charge('a', 80n, 'cap'));
    expect(state.balance).toBe(70n);
    expect(() => accountDecider.decide(charge('b', 71n, 'refuse'), state)).toThrow(
      expect.objectContaining({ code: 'INSUFFICIENT_FUNDS' }),
    );
    const [capped] = accountDecider.decide(charge('c', 100n, 'cap'), state);
    expect(capped?.data).toMatchObject({ fromBalance: '70', uncollected: '30' });
  });

  it('refuses a closed account credit and grants, and an unknown account everything', () => {
    const closed = given(open, credit(100n), { kind: 'close', accountId: 'acme', reason: '' });
    expect(() => accountDecider.decide(grant(1n), closed)).toThrow(
      expect.objectContaining({ code: 'billing.ACCOUNT_CLOSED' }),
    );
    expect(() => accountDecider.decide(credit(1n, 'x'), closed)).toThrow(
      expect.objectContaining({ code: 'billing.ACCOUNT_CLOSED' }),
    );
    expect(closed.balance).toBe(100n);
    expect(() => accountDecider.decide(grant(1n), accountDecider.initialState())).toThrow(
      expect.objectContaining({ code: 'NOT_FOUND' }),
    );
  });
});
