import {
  PlatformLedgerAccount,
  UsageCharged,
  customerLedgerAccount,
  grantLedgerAccount,
  receivableLedgerAccount,
  type Event,
  type EventDataOf,
  type PendingEvent,
  type Posting,
  type Product,
} from '@tessera/contracts';
import { dec, min, remember, requireOpened, requireSpendable } from '../accounts/account.rules.js';
import { type AccountState, type GrantState } from '../accounts/account.state.js';
import { billingErrors } from '../shared/errors.js';

/** One usage charge, already priced. */
export interface UsageCharge {
  requestId: string;
  grantId: string | null;
  product: Product;
  item: string;
  promptTokens: number;
  completionTokens: number;
  gpuSeconds: number;
  priceVersion: number | null;
  amount: bigint;
  /** UTC day (YYYY-MM-DD) the usage counts to. */
  day: string;
}

/** Charging usage outside a settle (completed requests, GPU time). */
export type UsageCommand = {
  kind: 'charge';
  accountId: string;
  charge: UsageCharge;
  dailyAllowance: bigint;
  /**
   * `refuse`: more than the balance (plus allowance) is INSUFFICIENT_FUNDS — charges without a
   * grant, asked for before the work. `cap`: a completed request's usage is taken from its grant,
   * then the balance, and the rest is booked as owed — the request already happened.
   */
  overdraft: 'refuse' | 'cap';
};

/**
 * Several completed requests of one account charged in one decision, so they are one commit on
 * the account's stream instead of one each (what lets billing keep up with the proxy's request
 * rate). Each charge is decided as if the ones before it had been applied; if any is refused,
 * the whole command is, and the caller charges them one by one to find it.
 */
export interface UsageBatchCommand {
  kind: 'chargeMany';
  accountId: string;
  charges: readonly UsageCharge[];
  dailyAllowance: bigint;
  overdraft: 'refuse' | 'cap';
}

/**
 * GPU time (training, deployments) is charged by its metering with an id that must never be
 * reused for other content, and a retry answers with the first charge's amount: those records
 * keep their content. Inference usage is charged once per request id and the first report wins
 * (the proxy's settle and its completed-request event may both report it), so its records keep
 * only the key and time — a busy account holds many of them, and they make up its snapshot.
 */
const keepsContent = (product: Product): boolean => product !== 'inference';

export const usageKey = (requestId: string): string => `usage:${requestId}`;

const revenueAccount: Record<Product, string> = {
  inference: PlatformLedgerAccount.revenueInference,
  training: PlatformLedgerAccount.revenueTraining,
  deployment: PlatformLedgerAccount.revenueDeployment,
};

/** The revenue ledger account of a product. */
export const revenueLedgerAccount = (product: Product): string => revenueAccount[product];

/** What makes two charges with the same id "the same content" (the amount follows from the price in force). */
export function chargeFingerprint(charge: {
  product: string;
  item: string;
  gpuSeconds: number;
  promptTokens: number;
  completionTokens: number;
}): string {
  return `${charge.product}|${charge.item}|${charge.gpuSeconds}|${charge.promptTokens}|${charge.completionTokens}`;
}

/** A charge's outcome as its idempotency record keeps it, so a retry answers with the first amount. */
export function chargeOutcome(amount: string, priceVersion: number | null): string {
  return `${amount}|${priceVersion ?? ''}`;
}

/** Reads {@link chargeOutcome} back. */
export function parseChargeOutcome(outcome: string): { amount: string; priceVersion: number | null } {
  const [amount = '0', version = ''] = outcome.split('|');
  return { amount, priceVersion: version === '' ? null : Number(version) };
}

/** How much of the daily free allowance is left on `day`. Late usage for past days gets none. */
export function allowanceLeft(state: AccountState, day: string, dailyAllowance: bigint): bigint {
  if (day < state.allowanceDay) return 0n;
  const used = day === state.allowanceDay ? state.allowanceUsed : 0n;
  return dailyAllowance > used ? dailyAllowance - used : 0n;
}

/**
 * Splits a charge over allowance, grant and balance; what is left is owed (the receivable). The
 * postings move every part to the product's revenue.
 */
export function planCharge(
  state: AccountState,
  charge: UsageCharge,
  grant: GrantState | undefined,
  dailyAllowance: bigint,
  allowanceAlreadyTaken = 0n,
): EventDataOf<typeof UsageCharged> {
  const revenue = revenueAccount[charge.product];
  let rest = charge.amount;
  const fromAllowance = min(rest, allowanceLeft(state, charge.day, dailyAllowance) - allowanceAlreadyTaken);
  rest -= fromAllowance;
  const fromGrant = grant ? min(rest, grant.remaining) : 0n;
  rest -= fromGrant;
  const fromBalance = min(rest, state.balance);
  rest -= fromBalance;
  const postings: Posting[] = [];
  if (fromAllowance > 0n)
    postings.push({ from: PlatformLedgerAccount.freeAllowance, to: revenue, amount: dec(fromAllowance) });
  if (fromGrant > 0n && grant)
    postings.push({ from: grantLedgerAccount(grant.grantId), to: revenue, amount: dec(fromGrant) });
  if (fromBalance > 0n)
    postings.push({ from: customerLedgerAccount(state.accountId), to: revenue, amount: dec(fromBalance) });
  if (rest > 0n)
    postings.push({ from: receivableLedgerAccount(state.accountId), to: revenue, amount: dec(rest) });
  return {
    accountId: state.accountId,
    requestId: charge.requestId,
    grantId: charge.grantId,
    product: charge.product,
    item: charge.item,
    promptTokens: charge.promptTokens,
    completionTokens: charge.completionTokens,
    gpuSeconds: charge.gpuSeconds,
    priceVersion: charge.priceVersion,
    day: charge.day,
    amount: dec(charge.amount),
    fromAllowance: dec(fromAllowance),
    fromGrant: dec(fromGrant),
    fromBalance: dec(fromBalance),
    uncollected: dec(rest),
    postings,
  };
}

export function decideUsage(command: UsageCommand, state: AccountState): readonly PendingEvent[] {
  requireOpened(state, command.accountId);
  const { charge } = command;
  const seen = state.idempotency.get(usageKey(charge.requestId));
  if (seen !== undefined) {
    if (keepsContent(charge.product) && seen.fingerprint !== chargeFingerprint(charge))
      throw billingErrors.idempotencyMismatch(charge.requestId);
    return [];
  }
  const grant = charge.grantId ? state.grants.get(charge.grantId) : undefined;
  const usable = grant && grant.status === 'open' ? grant : undefined;
  if (command.overdraft === 'refuse') {
    requireSpendable(state);
    const available = state.balance + allowanceLeft(state, charge.day, command.dailyAllowance);
    if (charge.amount > available)
      throw billingErrors.insufficientFunds(command.accountId, available, charge.amount);
  }
  return [UsageCharged.create(planCharge(state, charge, usable, command.dailyAllowance))];
}

export function decideUsageBatch(command: UsageBatchCommand, state: AccountState): readonly PendingEvent[] {
  requireOpened(state, command.accountId);
  const scratch = scratchOf(state);
  const pending: PendingEvent[] = [];
  for (const charge of command.charges) {
    const decided = decideUsage(
      {
        kind: 'charge',
        accountId: command.accountId,
        charge,
        dailyAllowance: command.dailyAllowance,
        overdraft: command.overdraft,
      },
      scratch,
    );
    for (const event of decided) {
      // Evolved on the scratch copy only (its time matters to nothing the next charge reads).
      evolveUsage(scratch, { ...event, occurredAt: new Date(0).toISOString() } as unknown as Event);
      pending.push(event);
    }
  }
  return pending;
}

/**
 * A copy of an account to decide a batch on: scalars copied, and the grants and idempotency
 * keys read through to the real state, copied only where a charge changes them. The real
 * state is evolved by the stored events once the commit lands.
 */
function scratchOf(state: AccountState): AccountState {
  return {
    ...state,
    grants: new ReadThroughMap(state.grants, (grant) => ({ ...grant })),
    idempotency: new ReadThroughMap(state.idempotency, (record) => record),
  };
}

/** A map over a base map it never changes: a value read from the base is copied in first. */
class ReadThroughMap<K, V> extends Map<K, V> {
  constructor(
    private readonly base: ReadonlyMap<K, V>,
    private readonly copy: (value: V) => V,
  ) {
    super();
  }

  override get(key: K): V | undefined {
    if (super.has(key)) return super.get(key);
    const value = this.base.get(key);
    if (value === undefined) return undefined;
    const copied = this.copy(value);
    super.set(key, copied);
    return copied;
  }

  override has(key: K): boolean {
    return super.has(key) || this.base.has(key);
  }
}

/** Applies usage charges; false for any other event. */
export function evolveUsage(state: AccountState, event: Event): boolean {
  if (!UsageCharged.is(event)) return false;
  const data = event.data;
  if (keepsContent(data.product))
    remember(
      state,
      usageKey(data.requestId),
      chargeFingerprint(data),
      event.occurredAt,
      chargeOutcome(data.amount, data.priceVersion),
    );
  else remember(state, usageKey(data.requestId), '', event.occurredAt);
  const fromGrant = BigInt(data.fromGrant);
  if (data.grantId) {
    const grant = state.grants.get(data.grantId);
    if (grant) {
      grant.remaining -= fromGrant;
      grant.charged += BigInt(data.amount);
    }
  }
  state.held -= fromGrant;
  state.balance -= BigInt(data.fromBalance);
  state.owed += BigInt(data.uncollected);
  if (data.day > state.allowanceDay) {
    state.allowanceDay = data.day;
    state.allowanceUsed = 0n;
  }
  if (data.day === state.allowanceDay) state.allowanceUsed += BigInt(data.fromAllowance);
  return true;
}
