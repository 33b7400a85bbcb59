import {
  AccountClosed,
  AccountCredited,
  AccountOpened,
  AccountReinstated,
  AccountSuspended,
  ApiKeyIssued,
  ApiKeyRevoked,
  CreditGranted,
  DepositAddressAssigned,
  DepositCredited,
  DepositIgnored,
  GrantExpired,
  GrantSettled,
  PlatformLedgerAccount,
  RAO_PER_TAO,
  UsageCharged,
  customerLedgerAccount,
  grantLedgerAccount,
  type ApiKeyLimits,
  type ApiKeyScope,
  type Event,
  type EventDataOf,
  type PendingEvent,
  type Posting,
  type Product,
} from '@tessera/contracts';
import { type Decider } from '@tessera/eventstore';
import { billingErrors } from '../shared/errors.js';
import { initialAccountState, type AccountState, type GrantState } from './account.state.js';

/** A chain transfer to the account's deposit address. */
export interface ObservedDeposit {
  blockHash: string;
  blockNumber: number;
  eventIndex: number;
  from: string;
  amountRao: bigint;
}

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

/** Commands of the account aggregate. Time and ids arrive in the command, never read inside. */
export type AccountCommand =
  | { kind: 'open'; accountId: string; name: string; depositAddress: string }
  | { kind: 'suspend' | 'reinstate' | 'close'; accountId: string; reason: string }
  | {
      kind: 'issueKey';
      accountId: string;
      keyId: string;
      name: string;
      secretHash: string;
      scopes: ApiKeyScope[];
      limits: ApiKeyLimits;
      expiresAt: string | null;
    }
  | { kind: 'revokeKey'; accountId: string; keyId: string }
  | { kind: 'credit'; accountId: string; idempotencyKey: string; amount: bigint; reason: string }
  | {
      kind: 'creditDeposit';
      accountId: string;
      deposit: ObservedDeposit;
      minimumRao: bigint;
      taoPrice: { nanoUsdPerTao: bigint; priceVersion: number } | undefined;
    }
  | {
      kind: 'grant';
      accountId: string;
      grantId: string;
      idempotencyKey: string;
      holder: string;
      requested: bigint;
      expiresAt: Date;
    }
  | {
      kind: 'settle';
      accountId: string;
      grantId: string;
      usage: { requestId: string; amount: bigint; item: string }[];
      day: string;
      dailyAllowance: bigint;
      now: Date;
    }
  | { kind: 'expireGrant'; accountId: string; grantId: string; now: Date }
  | {
      kind: 'charge';
      accountId: string;
      charge: UsageCharge;
      dailyAllowance: bigint;
      /**
       * `refuse`: more than the balance (plus allowance) is INSUFFICIENT_FUNDS — charges without a
       * grant. `cap`: a completed request's usage is taken from its grant, then the balance, and
       * what is left is recorded as uncollected — the request already happened.
       */
      overdraft: 'refuse' | 'cap';
      fingerprint: string | undefined;
    };

const revenueAccount: Record<Product, string> = {
  inference: PlatformLedgerAccount.revenueInference,
  training: PlatformLedgerAccount.revenueTraining,
  deployment: PlatformLedgerAccount.revenueDeployment,
};

const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);
const dec = (value: bigint): string => value.toString();

function requireOpened(state: AccountState, accountId: string): void {
  if (!state.opened) throw billingErrors.accountNotFound(accountId);
}

function requireSpendable(state: AccountState): void {
  if (state.status === 'closed') throw billingErrors.accountClosed(state.accountId);
  if (state.status === 'suspended') throw billingErrors.accountSuspended(state.accountId);
}

/** How much of the daily free allowance is left on `day`. Late usage for past days gets none. */
export function allowanceLeft(state: AccountState, day: string, dailyAllowance: bigint): bigint {
  if (day < state.allowanceDay) return 0n;
  const used = day === state.allowanceDay ? state.allowanceUsed : 0n;
  return dailyAllowance > used ? dailyAllowance - used : 0n;
}

/** Splits a charge over allowance, grant and balance; the postings move the money to revenue. */
function planCharge(
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

const usageKey = (requestId: string): string => `usage:${requestId}`;

function decide(command: AccountCommand, state: AccountState): readonly PendingEvent[] {
  switch (command.kind) {
    case 'open': {
      if (state.opened) throw billingErrors.accountExists(command.accountId);
      return [
        AccountOpened.create({
          accountId: command.accountId,
          name: command.name,
          depositAddress: command.depositAddress,
        }),
        DepositAddressAssigned.create({ accountId: command.accountId, address: command.depositAddress }),
      ];
    }
    case 'suspend':
    case 'reinstate':
    case 'close': {
      requireOpened(state, command.accountId);
      if (state.status === 'closed') throw billingErrors.accountClosed(command.accountId);
      if (command.kind === 'suspend')
        return state.status === 'suspended'
          ? []
          : [AccountSuspended.create({ accountId: command.accountId, reason: command.reason })];
      if (command.kind === 'reinstate')
        return state.status === 'open' ? [] : [AccountReinstated.create({ accountId: command.accountId })];
      return [AccountClosed.create({ accountId: command.accountId, reason: command.reason })];
    }
    case 'issueKey': {
      requireOpened(state, command.accountId);
      if (state.status === 'closed') throw billingErrors.accountClosed(command.accountId);
      const { kind: _kind, ...data } = command;
      return [ApiKeyIssued.create(data)];
    }
    case 'revokeKey': {
      requireOpened(state, command.accountId);
      const key = state.keys.get(command.keyId);
      if (!key) throw billingErrors.keyNotFound(command.keyId);
      return key.revoked
        ? []
        : [ApiKeyRevoked.create({ accountId: command.accountId, keyId: command.keyId })];
    }
    case 'credit': {
      requireOpened(state, command.accountId);
      if (state.status === 'closed') throw billingErrors.accountClosed(command.accountId);
      const key = `credit:${command.idempotencyKey}`;
      const fingerprint = `${command.amount}|${command.reason}`;
      const seen = state.idempotency.get(key);
      if (seen !== undefined) {
        if (seen !== fingerprint) throw billingErrors.idempotencyMismatch(command.idempotencyKey);
        return [];
      }
      return [
        AccountCredited.create({
          accountId: command.accountId,
          idempotencyKey: key,
          amount: dec(command.amount),
          reason: command.reason,
          postings: [
            {
              from: PlatformLedgerAccount.promotions,
              to: customerLedgerAccount(command.accountId),
              amount: dec(command.amount),
            },
          ],
        }),
      ];
    }
    case 'creditDeposit': {
      requireOpened(state, command.accountId);
      const { deposit } = command;
      const key = `deposit:${deposit.blockHash}:${deposit.eventIndex}`;
      if (state.idempotency.has(key)) return [];
      const base = {
        accountId: command.accountId,
        idempotencyKey: key,
        blockHash: deposit.blockHash,
        blockNumber: deposit.blockNumber,
        eventIndex: deposit.eventIndex,
        from: deposit.from,
        amountRao: dec(deposit.amountRao),
      };
      if (deposit.amountRao < command.minimumRao || deposit.amountRao === 0n)
        return [
          DepositIgnored.create({ ...base, minimumRao: dec(command.minimumRao), reason: 'below-minimum' }),
        ];
      if (!command.taoPrice)
        return [
          DepositIgnored.create({ ...base, minimumRao: dec(command.minimumRao), reason: 'no-tao-price' }),
        ];
      // Rounded down: the customer is never credited a fraction of a nano-USD that did not arrive.
      const credited = (deposit.amountRao * command.taoPrice.nanoUsdPerTao) / RAO_PER_TAO;
      return [
        DepositCredited.create({
          ...base,
          nanoUsdPerTao: dec(command.taoPrice.nanoUsdPerTao),
          priceVersion: command.taoPrice.priceVersion,
          credited: dec(credited),
          postings:
            credited > 0n
              ? [
                  {
                    from: PlatformLedgerAccount.taoReceived,
                    to: customerLedgerAccount(command.accountId),
                    amount: dec(credited),
                  },
                ]
              : [],
        }),
      ];
    }
    case 'grant': {
      requireOpened(state, command.accountId);
      const key = `grant:${command.idempotencyKey}`;
      const fingerprint = `${command.holder}|${command.requested}`;
      const seen = state.idempotency.get(key);
      if (seen !== undefined) {
        if (seen !== fingerprint) throw billingErrors.idempotencyMismatch(command.idempotencyKey);
        return [];
      }
      requireSpendable(state);
      if (state.balance <= 0n)
        throw billingErrors.insufficientFunds(command.accountId, state.balance, command.requested);
      const granted = min(command.requested, state.balance);
      return [
        CreditGranted.create({
          accountId: command.accountId,
          grantId: command.grantId,
          idempotencyKey: key,
          holder: command.holder,
          requested: dec(command.requested),
          granted: dec(granted),
          expiresAt: command.expiresAt.toISOString(),
          postings: [
            {
              from: customerLedgerAccount(command.accountId),
              to: grantLedgerAccount(command.grantId),
              amount: dec(granted),
            },
          ],
        }),
      ];
    }
    case 'settle': {
      requireOpened(state, command.accountId);
      const grant = state.grants.get(command.grantId);
      if (!grant) throw billingErrors.grantNotFound(command.grantId);
      const fresh = command.usage.filter((item) => !state.idempotency.has(usageKey(item.requestId)));
      const duplicates = new Set<string>();
      for (const item of fresh) {
        if (duplicates.has(item.requestId)) throw billingErrors.idempotencyMismatch(item.requestId);
        duplicates.add(item.requestId);
      }
      if (grant.status === 'expired') throw billingErrors.grantExpired(command.grantId);
      if (grant.status === 'settled') {
        // A retried settle (same usage, all charged already) is a no-op; new usage is refused.
        if (fresh.length === 0) return [];
        throw billingErrors.grantClosed(command.grantId);
      }
      if (command.now.getTime() >= grant.expiresAt) throw billingErrors.grantExpired(command.grantId);
      const total = fresh.reduce((sum, item) => sum + item.amount, 0n);
      if (total > grant.remaining)
        throw billingErrors.settleExceedsGrant(command.grantId, grant.remaining, total);
      const events: PendingEvent[] = [];
      const working: GrantState = { ...grant };
      let allowanceTaken = 0n;
      for (const item of fresh) {
        const data = planCharge(
          state,
          {
            requestId: item.requestId,
            grantId: grant.grantId,
            product: 'inference',
            item: item.item,
            promptTokens: 0,
            completionTokens: 0,
            gpuSeconds: 0,
            priceVersion: null,
            amount: item.amount,
            day: command.day,
          },
          working,
          command.dailyAllowance,
          allowanceTaken,
        );
        allowanceTaken += BigInt(data.fromAllowance);
        working.remaining -= BigInt(data.fromGrant);
        events.push(UsageCharged.create(data));
      }
      events.push(
        GrantSettled.create({
          accountId: command.accountId,
          grantId: grant.grantId,
          returned: dec(working.remaining),
          postings: returnPostings(command.accountId, grant.grantId, working.remaining),
        }),
      );
      return events;
    }
    case 'expireGrant': {
      requireOpened(state, command.accountId);
      const grant = state.grants.get(command.grantId);
      if (!grant || grant.status !== 'open' || command.now.getTime() < grant.expiresAt) return [];
      return [
        GrantExpired.create({
          accountId: command.accountId,
          grantId: grant.grantId,
          returned: dec(grant.remaining),
          postings: returnPostings(command.accountId, grant.grantId, grant.remaining),
        }),
      ];
    }
    case 'charge': {
      requireOpened(state, command.accountId);
      const { charge } = command;
      const key = usageKey(charge.requestId);
      const seen = state.idempotency.get(key);
      if (seen !== undefined) {
        if (command.fingerprint !== undefined && seen !== command.fingerprint)
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
    default: {
      const unhandled: never = command;
      throw new Error(`unhandled account command ${JSON.stringify(unhandled)}`);
    }
  }
}

function returnPostings(accountId: string, grantId: string, remaining: bigint): Posting[] {
  return remaining > 0n
    ? [{ from: grantLedgerAccount(grantId), to: customerLedgerAccount(accountId), amount: dec(remaining) }]
    : [];
}

/**
 * Applies one event. It mutates and returns the state it is given: the state is owned by one
 * aggregate instance (the cache entry or a replay), and copying the maps per event would make a
 * long-lived account's every command O(history).
 */
function evolve(state: AccountState, event: Event): AccountState {
  if (AccountOpened.is(event)) {
    state.opened = true;
    state.accountId = event.data.accountId;
    state.name = event.data.name;
    state.depositAddress = event.data.depositAddress;
  } else if (AccountSuspended.is(event)) state.status = 'suspended';
  else if (AccountReinstated.is(event)) state.status = 'open';
  else if (AccountClosed.is(event)) state.status = 'closed';
  else if (ApiKeyIssued.is(event)) {
    const { keyId, name, secretHash, scopes, limits, expiresAt } = event.data;
    state.keys.set(keyId, { keyId, name, secretHash, scopes, limits, expiresAt, revoked: false });
  } else if (ApiKeyRevoked.is(event)) {
    const key = state.keys.get(event.data.keyId);
    if (key) key.revoked = true;
  } else if (AccountCredited.is(event)) {
    state.idempotency.set(event.data.idempotencyKey, `${event.data.amount}|${event.data.reason}`);
    state.balance += BigInt(event.data.amount);
  } else if (DepositCredited.is(event)) {
    state.idempotency.set(event.data.idempotencyKey, '');
    state.balance += BigInt(event.data.credited);
  } else if (DepositIgnored.is(event)) {
    state.idempotency.set(event.data.idempotencyKey, '');
  } else if (CreditGranted.is(event)) {
    const granted = BigInt(event.data.granted);
    state.idempotency.set(event.data.idempotencyKey, `${event.data.holder}|${event.data.requested}`);
    state.grantsByKey.set(event.data.idempotencyKey, event.data.grantId);
    state.grants.set(event.data.grantId, {
      grantId: event.data.grantId,
      holder: event.data.holder,
      granted,
      remaining: granted,
      expiresAt: Date.parse(event.data.expiresAt),
      status: 'open',
    });
    state.balance -= granted;
    state.held += granted;
  } else if (UsageCharged.is(event)) {
    const data = event.data;
    state.idempotency.set(usageKey(data.requestId), chargeFingerprint(data));
    const fromGrant = BigInt(data.fromGrant);
    if (fromGrant > 0n && data.grantId) {
      const grant = state.grants.get(data.grantId);
      if (grant) grant.remaining -= fromGrant;
      state.held -= fromGrant;
    }
    state.balance -= BigInt(data.fromBalance);
    if (data.day > state.allowanceDay) {
      state.allowanceDay = data.day;
      state.allowanceUsed = 0n;
    }
    if (data.day === state.allowanceDay) state.allowanceUsed += BigInt(data.fromAllowance);
  } else if (GrantSettled.is(event) || GrantExpired.is(event)) {
    const grant = state.grants.get(event.data.grantId);
    const returned = BigInt(event.data.returned);
    if (grant) {
      grant.remaining -= returned;
      grant.status = GrantSettled.is(event) ? 'settled' : 'expired';
    }
    state.held -= returned;
    state.balance += returned;
  }
  return state;
}

/** What makes two GPU charges with the same id "the same content". */
export function chargeFingerprint(charge: {
  product: string;
  item: string;
  gpuSeconds: number;
  promptTokens: number;
  completionTokens: number;
}): string {
  return `${charge.product}|${charge.item}|${charge.gpuSeconds}|${charge.promptTokens}|${charge.completionTokens}`;
}

/** The customer account aggregate. */
export const accountDecider: Decider<AccountCommand, AccountState> = {
  initialState: initialAccountState,
  evolve,
  decide,
};
