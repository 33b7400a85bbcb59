import {
  DepositCredited,
  DepositIgnored,
  DepositSuspended,
  GrantSettled,
  PlatformLedgerAccount,
  TaoLedgerAccount,
  UsageCharged,
  isTesseraError,
  type Event,
  type PendingEvent,
} from '@tessera/contracts';
import { describe, expect, it } from 'vitest';
import { createAccountDecider, type AccountCommand } from './account.decider.js';
import { decodeAccountState, encodeAccountState, type AccountState } from './account.state.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const RETENTION_MS = 7 * DAY_MS;
const decider = createAccountDecider({ idempotencyRetentionMs: RETENTION_MS });
const START = Date.parse('2025-01-01T12:00:00.000Z');
const ADDRESS = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY';
const GRANT = 'acme:01942f00-0000-7000-8000-000000000001';

let sequence = 0;
/** Turns pending events into stored-looking ones (at `at`) so `evolve` can fold them. */
function stored(pending: readonly PendingEvent[], at: number): Event[] {
  return pending.map((event) => {
    sequence += 1;
    return {
      id: `00000000-0000-7000-8000-${String(sequence).padStart(12, '0')}`,
      type: event.type,
      version: event.version,
      streamId: 'billing.account.acme',
      sequence,
      occurredAt: new Date(at).toISOString(),
      correlationId: 'test',
      causationId: null,
      traceparent: null,
      actor: 'service:test',
      data: event.data,
    };
  });
}

/** A history: each command decided on the state so far and its events evolved, at its time. */
class History {
  state: AccountState = decider.initialState();
  readonly events: Event[] = [];

  when(command: AccountCommand, at = START): readonly Event[] {
    const events = stored(decider.decide(command, this.state), at);
    for (const event of events) this.state = decider.evolve(this.state, event);
    this.events.push(...events);
    return events;
  }

  static given(...commands: AccountCommand[]): History {
    const history = new History();
    for (const command of commands) history.when(command);
    return history;
  }
}

/** The error `decide` throws for `command`, to test its code with a predicate. */
function refusal(command: AccountCommand, state: AccountState): unknown {
  try {
    decider.decide(command, state);
  } catch (err) {
    return err;
  }
  throw new Error(`${command.kind} was not refused`);
}

const open: AccountCommand = { kind: 'open', accountId: 'acme', name: 'Acme', depositAddress: ADDRESS };
const credit = (amount: bigint, key = 'seed'): AccountCommand => ({
  kind: 'credit',
  accountId: 'acme',
  idempotencyKey: key,
  amount,
  reason: '',
});
const grant = (requested: bigint, grantId = GRANT, at = START): AccountCommand => ({
  kind: 'grant',
  accountId: 'acme',
  grantId,
  idempotencyKey: grantId,
  holder: 'proxy-1',
  requested,
  expiresAt: new Date(at + 60_000),
});
const settle = (
  amounts: bigint[],
  options: { now?: number; holder?: string; grantId?: string } = {},
): AccountCommand => ({
  kind: 'settle',
  accountId: 'acme',
  grantId: options.grantId ?? GRANT,
  holder: options.holder ?? 'proxy-1',
  usage: amounts.map((amount, i) => ({ requestId: `r${i}`, amount, item: 'usage' })),
  day: '2025-01-01',
  dailyAllowance: 0n,
  now: new Date(options.now ?? START),
});
const charge = (
  requestId: string,
  amount: bigint,
  overdraft: 'cap' | 'refuse',
  grantId: string | null = null,
): AccountCommand => ({
  kind: 'charge',
  accountId: 'acme',
  charge: {
    requestId,
    grantId,
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
});
const PRICE = { nanoUsdPerTao: 400_000_000_000n, priceVersion: 7 };
const deposit = (
  eventIndex: number,
  amountRao: bigint,
  taoPrice: typeof PRICE | 'no price' = PRICE,
  source: 'inflow' | 'address-suspense' = 'inflow',
): AccountCommand => ({
  kind: 'creditDeposit',
  accountId: 'acme',
  deposit: { blockHash: `0x${'1'.repeat(64)}`, blockNumber: 5, eventIndex, from: ADDRESS, amountRao },
  minimumRao: 1_000n,
  taoPrice: taoPrice === 'no price' ? undefined : taoPrice,
  source,
});

describe('account decider: grants and settlement', () => {
  it('grants no more than the balance, and refuses when the balance is zero', () => {
    const { state } = History.given(open, credit(300n), grant(500n));
    expect(state).toMatchObject({ balance: 0n, held: 300n });
    expect(
      isTesseraError(
        refusal(grant(1n, 'acme:01942f00-0000-7000-8000-000000000002'), state),
        'INSUFFICIENT_FUNDS',
      ),
    ).toBe(true);
  });

  it('answers a retried grant (same key) with no new hold, and refuses the key for another amount', () => {
    const { state } = History.given(open, credit(1_000n), grant(400n));
    expect(decider.decide(grant(400n, GRANT), state)).toEqual([]);
    expect(isTesseraError(refusal(grant(401n, GRANT), state), 'IDEMPOTENCY_MISMATCH')).toBe(true);
    expect(state.held).toBe(400n);
  });

  it('settles usage from the grant and returns the remainder; refuses a settle larger than the grant', () => {
    const history = History.given(open, credit(1_000n), grant(400n));
    expect(isTesseraError(refusal(settle([300n, 101n]), history.state), 'billing.SETTLE_EXCEEDS_GRANT')).toBe(
      true,
    );
    const events = history.when(settle([300n]));
    expect(events.filter((event) => UsageCharged.is(event))).toHaveLength(1);
    expect(events.find((event) => GrantSettled.is(event))?.data).toMatchObject({
      charged: '300',
      returned: '100',
    });
    expect(history.state).toMatchObject({ balance: 700n, held: 0n });
  });

  it('lets only the holder settle, and answers a retried settle with the original result', () => {
    const history = History.given(open, credit(1_000n), grant(400n));
    expect(
      isTesseraError(
        refusal(settle([300n], { holder: 'proxy-2' }), history.state),
        'billing.NOT_GRANT_HOLDER',
      ),
    ).toBe(true);
    history.when(settle([300n]));
    // The retry decides nothing new; the grant keeps what the first settle charged and returned.
    expect(decider.decide(settle([300n]), history.state)).toEqual([]);
    expect(history.state.grants.get(GRANT)?.settlement).toEqual({ charged: 300n, returned: 100n });
    expect(isTesseraError(refusal(settle([300n, 5n]), history.state), 'billing.GRANT_CLOSED')).toBe(true);
    expect(
      isTesseraError(
        refusal(settle([300n], { holder: 'proxy-2' }), history.state),
        'billing.NOT_GRANT_HOLDER',
      ),
    ).toBe(true);
  });

  it('refuses to settle an expired grant, and expiry returns its remainder once', () => {
    const { state } = History.given(open, credit(1_000n), grant(400n));
    const late = START + 60_000;
    expect(isTesseraError(refusal(settle([1n], { now: late }), state), 'billing.GRANT_EXPIRED')).toBe(true);
    const expire: AccountCommand = {
      kind: 'expireGrant',
      accountId: 'acme',
      grantId: GRANT,
      now: new Date(late),
    };
    const expired = History.given(open, credit(1_000n), grant(400n), expire).state;
    expect(expired).toMatchObject({ balance: 1_000n, held: 0n });
    expect(decider.decide(expire, expired)).toEqual([]);
  });
});

describe('account decider: usage and receivables', () => {
  it('uses the daily free allowance before the balance, and refuses an up-front charge beyond it', () => {
    const { state } = History.given(open, credit(100n), charge('a', 80n, 'cap'));
    expect(state.balance).toBe(70n);
    expect(isTesseraError(refusal(charge('b', 71n, 'refuse'), state), 'INSUFFICIENT_FUNDS')).toBe(true);
  });

  it('books what a completed request cannot pay on the receivable; a credit pays it first; no grant while owed', () => {
    const history = History.given(open, credit(100n));
    const [capped] = history.when(charge('c', 180n, 'cap'));
    expect(capped?.data).toMatchObject({ fromAllowance: '50', fromBalance: '100', uncollected: '30' });
    expect((capped?.data as { postings: unknown[] }).postings).toContainEqual({
      from: 'receivable:acme',
      to: PlatformLedgerAccount.revenueInference,
      amount: '30',
    });
    expect(history.state).toMatchObject({ balance: 0n, owed: 30n });
    expect(isTesseraError(refusal(grant(1n), history.state), 'billing.RECEIVABLE_OUTSTANDING')).toBe(true);
    expect(
      isTesseraError(refusal(charge('d', 1n, 'refuse'), history.state), 'billing.RECEIVABLE_OUTSTANDING'),
    ).toBe(true);

    const [paid] = history.when(credit(100n, 'top-up'));
    expect(paid?.data).toMatchObject({ amount: '100', receivablePaid: '30' });
    expect(history.state).toMatchObject({ balance: 70n, owed: 0n });
    expect(decider.decide(grant(10n), history.state)).toHaveLength(1);
  });

  it('charges a request id once; a GPU charge with the same id and other content is a mismatch', () => {
    const gpu = (gpuSeconds: number): AccountCommand => {
      const command = charge('g', 10n, 'refuse');
      return command.kind === 'charge'
        ? { ...command, charge: { ...command.charge, product: 'training', item: 'h100', gpuSeconds } }
        : command;
    };
    const { state } = History.given(open, credit(1_000n), gpu(1), charge('i', 10n, 'cap'));
    expect(decider.decide(gpu(1), state)).toEqual([]);
    expect(isTesseraError(refusal(gpu(5), state), 'IDEMPOTENCY_MISMATCH')).toBe(true);
    // Inference usage: the first report of a request id wins, whatever a later one says.
    expect(decider.decide(charge('i', 99n, 'cap'), state)).toEqual([]);
    expect(state.idempotency.get('usage:i')).toMatchObject({ fingerprint: '', outcome: '' });
  });

  it('charges a batch in one decision exactly as one by one, leaving the state untouched until evolved', () => {
    const chargesOf = (commands: AccountCommand[]) =>
      commands.map((command) => {
        if (command.kind !== 'charge') throw new Error('not a charge');
        return command.charge;
      });
    // Allowance (50), then the grant (40), then the balance (30), then owed (5); a repeated id once.
    const singles = [
      charge('b1', 30n, 'cap', GRANT),
      charge('b2', 30n, 'cap', GRANT),
      charge('b1', 30n, 'cap', GRANT),
      charge('b3', 45n, 'cap', GRANT),
      charge('b4', 20n, 'cap'),
    ];
    const oneByOne = History.given(open, credit(70n), grant(40n));
    for (const single of singles) oneByOne.when(single);

    const batched = History.given(open, credit(70n), grant(40n));
    const before = structuredClone(batched.state);
    const batch: AccountCommand = {
      kind: 'chargeMany',
      accountId: 'acme',
      charges: chargesOf(singles),
      dailyAllowance: 50n,
      overdraft: 'cap',
    };
    const pending = decider.decide(batch, batched.state);
    expect(batched.state).toEqual(before);
    batched.when(batch);

    const charged = (history: History) =>
      history.events.filter((event) => UsageCharged.is(event)).map((event) => event.data);
    expect(pending).toHaveLength(4);
    expect(charged(batched)).toEqual(charged(oneByOne));
    expect(batched.state).toEqual(oneByOne.state);
    expect(batched.state).toMatchObject({ balance: 0n, held: 0n, owed: 5n });
    // Charged ids stay charged for a later batch.
    expect(decider.decide({ ...batch, charges: chargesOf([singles[0]!]) }, batched.state)).toEqual([]);
  });

  it('refuses a whole batch when one of its charges is refused', () => {
    const { state } = History.given(open, credit(10n));
    const command: AccountCommand = {
      kind: 'chargeMany',
      accountId: 'acme',
      charges: [charge('r1', 5n, 'refuse'), charge('r2', 500n, 'refuse')].map((c) =>
        c.kind === 'charge' ? c.charge : (undefined as never),
      ),
      dailyAllowance: 0n,
      overdraft: 'refuse',
    };
    expect(isTesseraError(refusal(command, state), 'INSUFFICIENT_FUNDS')).toBe(true);
    expect(state.balance).toBe(10n);
  });
});

describe('account decider: deposits', () => {
  it('credits a deposit once per chain position, rao and nano-USD legs both booked; dust is booked, not credited', () => {
    const history = History.given(open);
    const [credited] = history.when(deposit(1, 1_000_000_000n));
    history.when(deposit(1, 1_000_000_000n));
    const [dust] = history.when(deposit(2, 999n));
    expect(DepositCredited.is(credited as Event)).toBe(true);
    expect((credited?.data as { postings: unknown }).postings).toEqual([
      { from: TaoLedgerAccount.inflow, to: TaoLedgerAccount.converted, amount: '1000000000' },
      { from: PlatformLedgerAccount.taoReceived, to: 'customer:acme', amount: '400000000000' },
    ]);
    expect(DepositIgnored.is(dust as Event)).toBe(true);
    expect((dust?.data as { postings: unknown }).postings).toEqual([
      { from: TaoLedgerAccount.inflow, to: TaoLedgerAccount.dust, amount: '999' },
    ]);
    expect(history.state.balance).toBe(400_000_000_000n);
    expect(history.events).toHaveLength(4); // opened, address assigned, credited, dust
  });

  it('books a deposit that arrives before any TAO price on suspense, and credits it once a price is set', () => {
    const history = History.given(open);
    const [suspended] = history.when(deposit(3, 2_000_000_000n, 'no price'));
    expect(DepositSuspended.is(suspended as Event)).toBe(true);
    expect(suspended?.data).toMatchObject({
      reason: 'no-tao-price',
      accountId: 'acme',
      postings: [{ from: TaoLedgerAccount.inflow, to: TaoLedgerAccount.suspense, amount: '2000000000' }],
    });
    expect(decider.decide(deposit(3, 2_000_000_000n, 'no price'), history.state)).toEqual([]);
    const [credited] = history.when(deposit(3, 2_000_000_000n));
    expect(credited?.data).toMatchObject({
      fromSuspense: true,
      credited: '800000000000',
      postings: [
        { from: TaoLedgerAccount.suspense, to: TaoLedgerAccount.converted, amount: '2000000000' },
        { from: PlatformLedgerAccount.taoReceived, to: 'customer:acme', amount: '800000000000' },
      ],
    });
    expect(history.state.pendingDeposits.size).toBe(0);
    expect(decider.decide(deposit(3, 2_000_000_000n), history.state)).toEqual([]);
  });

  it('credits TAO released from an address suspense only with a price, out of tao:suspense', () => {
    const { state } = History.given(open);
    expect(
      isTesseraError(
        refusal(deposit(4, 5_000_000n, 'no price', 'address-suspense'), state),
        'billing.NO_TAO_PRICE',
      ),
    ).toBe(true);
    const [credited] = decider.decide(deposit(4, 5_000_000n, PRICE, 'address-suspense'), state);
    expect(credited?.data).toMatchObject({ fromSuspense: true });
  });
});

describe('account decider: lifecycle', () => {
  it('refuses a closed account credit and grants, and an unknown account everything', () => {
    const closed = History.given(open, credit(100n), { kind: 'close', accountId: 'acme', reason: '' }).state;
    expect(isTesseraError(refusal(grant(1n), closed), 'billing.ACCOUNT_CLOSED')).toBe(true);
    expect(isTesseraError(refusal(credit(1n, 'x'), closed), 'billing.ACCOUNT_CLOSED')).toBe(true);
    expect(closed.balance).toBe(100n);
    expect(isTesseraError(refusal(grant(1n), decider.initialState()), 'NOT_FOUND')).toBe(true);
    expect(isTesseraError(refusal(open, closed), 'billing.ACCOUNT_EXISTS')).toBe(true);
  });

  it('treats a repeated credit key with the same content as a no-op and different content as a mismatch', () => {
    const { state } = History.given(open, credit(100n, 'k'));
    expect(decider.decide(credit(100n, 'k'), state)).toEqual([]);
    expect(isTesseraError(refusal(credit(101n, 'k'), state), 'IDEMPOTENCY_MISMATCH')).toBe(true);
  });
});

describe('account decider: retention window', () => {
  it('forgets idempotency keys and closed grants older than the window (by event time), keeps deposits for good', () => {
    const history = History.given(open, credit(1_000n, 'old'));
    history.when(deposit(9, 1_000_000n), START + 1);
    history.when(grant(10n, GRANT, START + 2), START + 2);
    history.when(settle([10n]), START + 3);
    expect(history.state.idempotency.has('credit:old')).toBe(true);
    expect(history.state.grants.has(GRANT)).toBe(true);

    // Eight days later, any event prunes what is older than seven days.
    history.when(credit(1n, 'new'), START + 8 * DAY_MS);
    expect([...history.state.idempotency.keys()]).toEqual(['credit:new']);
    expect(history.state.grants.size).toBe(0);
    expect(history.state.deposits.has(`deposit:0x${'1'.repeat(64)}:9`)).toBe(true);
    expect(decider.decide(deposit(9, 1_000_000n), history.state)).toEqual([]);
    // A key out of the window is a new request again.
    expect(decider.decide(credit(1_000n, 'old'), history.state)).toHaveLength(1);
  });

  it('prunes identically on every replay: a fold of the same events gives the same state', () => {
    const history = History.given(open, credit(1_000n, 'a'));
    history.when(credit(5n, 'b'), START + 3 * DAY_MS);
    history.when(credit(5n, 'c'), START + 9 * DAY_MS);
    let replayed = decider.initialState();
    for (const event of history.events) replayed = decider.evolve(replayed, event);
    expect(replayed).toEqual(history.state);
  });
});

describe('account state snapshots', () => {
  it('encodes and decodes to an equal state, through JSON', () => {
    const history = History.given(open, credit(1_000n), grant(400n), charge('c', 180n, 'cap', GRANT));
    history.when(deposit(3, 2_000_000_000n, 'no price'));
    history.when(settle([5n]));
    history.when({
      kind: 'issueKey',
      accountId: 'acme',
      keyId: 'abcdefghij012345',
      name: 'ci',
      secretHash: 'a'.repeat(64),
      scopes: ['inference'],
      limits: { requestsPerMinute: 10, tokensPerMinute: null },
      expiresAt: null,
    });
    const json = JSON.parse(JSON.stringify(encodeAccountState(history.state, RETENTION_MS))) as unknown;
    expect(decodeAccountState(json, RETENTION_MS)).toEqual(history.state);
  });

  it('refuses a snapshot pruned under another retention window, so the state is rebuilt', () => {
    const { state } = History.given(open, credit(1n));
    const encoded = encodeAccountState(state, RETENTION_MS);
    expect(() => decodeAccountState(encoded, DAY_MS)).toThrow(RangeError);
  });
});
