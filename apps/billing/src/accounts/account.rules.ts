import { customerLedgerAccount, receivableLedgerAccount, type Posting } from '@tessera/contracts';
import { billingErrors } from '../shared/errors.js';
import { type AccountState } from './account.state.js';

/** What every feature's decide function may rely on: pure helpers over the account state. */

export const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);
export const dec = (value: bigint): string => value.toString();

export function requireOpened(state: AccountState, accountId: string): void {
  if (!state.opened) throw billingErrors.accountNotFound(accountId);
}

export function requireNotClosed(state: AccountState): void {
  if (state.status === 'closed') throw billingErrors.accountClosed(state.accountId);
}

/** Spending (a grant, an up-front charge) needs an open account that owes nothing. */
export function requireSpendable(state: AccountState): void {
  requireNotClosed(state);
  if (state.status === 'suspended') throw billingErrors.accountSuspended(state.accountId);
  if (state.owed > 0n) throw billingErrors.receivableOutstanding(state.accountId, state.owed);
}

/**
 * Incoming credit pays what the customer owes first: the part of `incoming` that goes from the
 * customer's balance to its receivable, and the posting that moves it.
 */
export function receivablePayment(
  state: AccountState,
  incoming: bigint,
): { paid: bigint; postings: Posting[] } {
  const paid = min(incoming, state.owed);
  return {
    paid,
    postings:
      paid > 0n
        ? [
            {
              from: customerLedgerAccount(state.accountId),
              to: receivableLedgerAccount(state.accountId),
              amount: dec(paid),
            },
          ]
        : [],
  };
}

/** Applies a credit of `amount` of which `paid` went to the receivable. */
export function applyIncoming(state: AccountState, amount: bigint, paid: bigint): void {
  state.balance += amount - paid;
  state.owed -= paid;
}

/** Records an idempotency key's first use, as of the event's time. */
export function remember(
  state: AccountState,
  key: string,
  fingerprint: string,
  occurredAt: string,
  outcome = '',
): void {
  state.idempotency.set(key, { fingerprint, at: Date.parse(occurredAt), outcome });
}
