import {
  DepositAddressClaimed,
  DepositSuspended,
  SuspendedDepositReleased,
  TaoLedgerAccount,
  streamIdOf,
  type Event,
  type PendingEvent,
} from '@tessera/contracts';
import { type Decider } from '@tessera/eventstore';
import { billingErrors } from '../shared/errors.js';
import { depositKey, type ObservedDeposit } from './deposit.decide.js';

/** The stream of a deposit address: who claimed it, and TAO that reached it before anyone did. */
export const depositAddressStreamId = (address: string): string =>
  streamIdOf('billing', 'deposit-address', address);

/** A deposit waiting on the address's stream for someone to take it. */
export interface AddressSuspendedDeposit {
  readonly deposit: ObservedDeposit;
  /** The account it was handed to, once released. */
  releasedTo: string | undefined;
}

export interface DepositAddressState {
  address: string;
  claimedBy: string | undefined;
  readonly suspended: Map<string, AddressSuspendedDeposit>;
}

export type DepositAddressCommand =
  /** Claims the address for an account about to be opened; a no-op when that account holds it already. */
  | { kind: 'claim'; address: string; accountId: string }
  /**
   * A transfer reached the address. Claimed: nothing to record here (the claimant's account
   * credits it). Unclaimed: booked on `tao:suspense`, on this stream.
   */
  | { kind: 'receive'; address: string; deposit: ObservedDeposit }
  /**
   * Hands a suspended deposit to an account, once. `claimant-only` (the sweeper) releases only to
   * the account that claimed the address; `operator` may also name the account of an unclaimed one.
   */
  | {
      kind: 'release';
      address: string;
      depositKey: string;
      accountId: string;
      by: 'claimant-only' | 'operator';
    };

function decide(command: DepositAddressCommand, state: DepositAddressState): readonly PendingEvent[] {
  switch (command.kind) {
    case 'claim':
      if (state.claimedBy === command.accountId) return [];
      if (state.claimedBy !== undefined)
        throw billingErrors.depositAddressTaken(command.address, command.accountId);
      return [DepositAddressClaimed.create({ address: command.address, accountId: command.accountId })];
    case 'receive': {
      const key = depositKey(command.deposit);
      if (state.claimedBy !== undefined || state.suspended.has(key)) return [];
      const { deposit } = command;
      return [
        DepositSuspended.create({
          address: command.address,
          accountId: null,
          idempotencyKey: key,
          blockHash: deposit.blockHash,
          blockNumber: deposit.blockNumber,
          eventIndex: deposit.eventIndex,
          from: deposit.from,
          amountRao: deposit.amountRao.toString(),
          reason: 'unclaimed-address',
          postings:
            deposit.amountRao > 0n
              ? [
                  {
                    from: TaoLedgerAccount.inflow,
                    to: TaoLedgerAccount.suspense,
                    amount: deposit.amountRao.toString(),
                  },
                ]
              : [],
        }),
      ];
    }
    case 'release': {
      const suspended = state.suspended.get(command.depositKey);
      if (!suspended) throw billingErrors.suspendedDepositNotFound(command.address, command.depositKey);
      if (suspended.releasedTo !== undefined) {
        if (suspended.releasedTo === command.accountId) return [];
        throw billingErrors.suspendedDepositNotFound(command.address, command.depositKey);
      }
      const owner = state.claimedBy;
      if (owner !== undefined ? owner !== command.accountId : command.by !== 'operator')
        throw billingErrors.depositAddressTaken(command.address, command.accountId);
      return [
        SuspendedDepositReleased.create({
          address: command.address,
          idempotencyKey: command.depositKey,
          accountId: command.accountId,
        }),
      ];
    }
    default: {
      const unhandled: never = command;
      throw new Error(`unhandled deposit address command ${JSON.stringify(unhandled)}`);
    }
  }
}

function evolve(state: DepositAddressState, event: Event): DepositAddressState {
  if (DepositAddressClaimed.is(event)) {
    state.address = event.data.address;
    state.claimedBy = event.data.accountId;
  } else if (DepositSuspended.is(event)) {
    const { blockHash, blockNumber, eventIndex, from, amountRao } = event.data;
    state.address = event.data.address;
    state.suspended.set(event.data.idempotencyKey, {
      deposit: { blockHash, blockNumber, eventIndex, from, amountRao: BigInt(amountRao) },
      releasedTo: undefined,
    });
  } else if (SuspendedDepositReleased.is(event)) {
    const suspended = state.suspended.get(event.data.idempotencyKey);
    if (suspended) suspended.releasedTo = event.data.accountId;
  }
  return state;
}

/**
 * A deposit address as its own aggregate, so that whose an address is, and what reached it,
 * never depends on a read model's lag: the deposit reactor reads it through the event store.
 */
export const depositAddressDecider: Decider<DepositAddressCommand, DepositAddressState> = {
  initialState: () => ({ address: '', claimedBy: undefined, suspended: new Map() }),
  evolve,
  decide,
};
