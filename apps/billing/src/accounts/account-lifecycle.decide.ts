import {
  AccountClosed,
  AccountCredited,
  AccountOpened,
  AccountReinstated,
  AccountSuspended,
  DepositAddressAssigned,
  PlatformLedgerAccount,
  customerLedgerAccount,
  type Event,
  type PendingEvent,
} from '@tessera/contracts';
import { billingErrors } from '../shared/errors.js';
import {
  applyIncoming,
  dec,
  receivablePayment,
  remember,
  requireNotClosed,
  requireOpened,
} from './account.rules.js';
import { type AccountState } from './account.state.js';

/** Commands on an account's lifecycle and the operator's credits. */
export type AccountLifecycleCommand =
  | { kind: 'open'; accountId: string; name: string; depositAddress: string }
  | { kind: 'suspend' | 'reinstate' | 'close'; accountId: string; reason: string }
  | { kind: 'credit'; accountId: string; idempotencyKey: string; amount: bigint; reason: string };

export const creditKey = (idempotencyKey: string): string => `credit:${idempotencyKey}`;
const creditFingerprint = (amount: bigint | string, reason: string): string => `${amount}|${reason}`;

export function decideAccountLifecycle(
  command: AccountLifecycleCommand,
  state: AccountState,
): readonly PendingEvent[] {
  switch (command.kind) {
    case 'open':
      if (state.opened) throw billingErrors.accountExists(command.accountId);
      // One commit: the indexer watches an address only if its account exists, and vice versa.
      return [
        AccountOpened.create({
          accountId: command.accountId,
          name: command.name,
          depositAddress: command.depositAddress,
        }),
        DepositAddressAssigned.create({ accountId: command.accountId, address: command.depositAddress }),
      ];
    case 'suspend':
    case 'reinstate':
    case 'close':
      requireOpened(state, command.accountId);
      requireNotClosed(state);
      if (command.kind === 'suspend')
        return state.status === 'suspended'
          ? []
          : [AccountSuspended.create({ accountId: command.accountId, reason: command.reason })];
      if (command.kind === 'reinstate')
        return state.status === 'open' ? [] : [AccountReinstated.create({ accountId: command.accountId })];
      return [AccountClosed.create({ accountId: command.accountId, reason: command.reason })];
    case 'credit': {
      requireOpened(state, command.accountId);
      requireNotClosed(state);
      const key = creditKey(command.idempotencyKey);
      const seen = state.idempotency.get(key);
      if (seen !== undefined) {
        if (seen.fingerprint !== creditFingerprint(command.amount, command.reason))
          throw billingErrors.idempotencyMismatch(command.idempotencyKey);
        return [];
      }
      const payment = receivablePayment(state, command.amount);
      return [
        AccountCredited.create({
          accountId: command.accountId,
          idempotencyKey: key,
          amount: dec(command.amount),
          reason: command.reason,
          receivablePaid: dec(payment.paid),
          postings: [
            {
              from: PlatformLedgerAccount.promotions,
              to: customerLedgerAccount(command.accountId),
              amount: dec(command.amount),
            },
            ...payment.postings,
          ],
        }),
      ];
    }
    default: {
      const unhandled: never = command;
      throw new Error(`unhandled account command ${JSON.stringify(unhandled)}`);
    }
  }
}

/** Applies the lifecycle and credit events; false for any other event. */
export function evolveAccountLifecycle(state: AccountState, event: Event): boolean {
  if (AccountOpened.is(event)) {
    state.opened = true;
    state.accountId = event.data.accountId;
    state.name = event.data.name;
    state.depositAddress = event.data.depositAddress;
  } else if (AccountSuspended.is(event)) state.status = 'suspended';
  else if (AccountReinstated.is(event)) state.status = 'open';
  else if (AccountClosed.is(event)) state.status = 'closed';
  else if (AccountCredited.is(event)) {
    remember(
      state,
      event.data.idempotencyKey,
      creditFingerprint(event.data.amount, event.data.reason),
      event.occurredAt,
    );
    applyIncoming(state, BigInt(event.data.amount), BigInt(event.data.receivablePaid));
  } else return DepositAddressAssigned.is(event);
  return true;
}
