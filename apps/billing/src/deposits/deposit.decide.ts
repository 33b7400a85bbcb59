import {
  DepositCredited,
  DepositIgnored,
  DepositSuspended,
  PlatformLedgerAccount,
  RAO_PER_TAO,
  TaoLedgerAccount,
  customerLedgerAccount,
  type Event,
  type PendingEvent,
  type Posting,
} from '@tessera/contracts';
import { applyIncoming, dec, receivablePayment, requireOpened } from '../accounts/account.rules.js';
import { type AccountState } from '../accounts/account.state.js';
import { billingErrors } from '../shared/errors.js';

/** A chain transfer to a deposit address. */
export interface ObservedDeposit {
  blockHash: string;
  blockNumber: number;
  eventIndex: number;
  from: string;
  amountRao: bigint;
}

/** The TAO price in force: nano-USD per TAO and the price book version it came from. */
export interface TaoPrice {
  nanoUsdPerTao: bigint;
  priceVersion: number;
}

/** Crediting TAO that reached an account's deposit address. */
export type DepositCommand = {
  kind: 'creditDeposit';
  accountId: string;
  deposit: ObservedDeposit;
  minimumRao: bigint;
  taoPrice: TaoPrice | undefined;
  /**
   * `inflow`: straight from the chain (the deposit reactor; the sweeper for one waiting on this
   * account for a price). `address-suspense`: released from its address's stream, where it waited
   * for a claim; it needs a price now.
   */
  source: 'inflow' | 'address-suspense';
};

/** A deposit's idempotency key: its position on the chain. */
export const depositKey = (deposit: { blockHash: string; eventIndex: number }): string =>
  `deposit:${deposit.blockHash}:${deposit.eventIndex}`;

const raoPosting = (from: string, to: string, amountRao: bigint): Posting[] =>
  amountRao > 0n ? [{ from, to, amount: dec(amountRao) }] : [];

const creditOutcome = (credited: string, priceVersion: number): string => `${credited}|${priceVersion}`;

/** What crediting a deposit produced, once it was credited. */
export function depositOutcome(
  state: AccountState,
  key: string,
): { credited: string; priceVersion: number } | undefined {
  const [credited, version] = (state.deposits.get(key) ?? '').split('|');
  return credited && version ? { credited, priceVersion: Number(version) } : undefined;
}

/** Rao → nano-USD, rounded down: the customer is never credited a fraction of a nano-USD that did not arrive. */
export const taoToNanoUsd = (amountRao: bigint, price: TaoPrice): bigint =>
  (amountRao * price.nanoUsdPerTao) / RAO_PER_TAO;

export function decideDeposit(command: DepositCommand, state: AccountState): readonly PendingEvent[] {
  requireOpened(state, command.accountId);
  const key = depositKey(command.deposit);
  const pending = state.pendingDeposits.get(key);
  if (pending === undefined && state.deposits.has(key)) return [];
  // Waiting on this account's suspense, or released from its address's: either way out of tao:suspense.
  const fromSuspense = pending !== undefined || command.source === 'address-suspense';
  const deposit = pending === undefined ? command.deposit : { ...pending };
  const base = {
    accountId: command.accountId,
    idempotencyKey: key,
    blockHash: deposit.blockHash,
    blockNumber: deposit.blockNumber,
    eventIndex: deposit.eventIndex,
    from: deposit.from,
    amountRao: dec(deposit.amountRao),
  };
  const source = fromSuspense ? TaoLedgerAccount.suspense : TaoLedgerAccount.inflow;
  if (deposit.amountRao === 0n || deposit.amountRao < command.minimumRao)
    return [
      DepositIgnored.create({
        ...base,
        minimumRao: dec(command.minimumRao),
        reason: 'below-minimum',
        postings: raoPosting(source, TaoLedgerAccount.dust, deposit.amountRao),
      }),
    ];
  if (!command.taoPrice) {
    if (fromSuspense) {
      if (command.source === 'address-suspense') throw billingErrors.noTaoPrice();
      return []; // still waiting on this account's suspense
    }
    return [
      DepositSuspended.create({
        ...base,
        address: state.depositAddress,
        reason: 'no-tao-price',
        postings: raoPosting(TaoLedgerAccount.inflow, TaoLedgerAccount.suspense, deposit.amountRao),
      }),
    ];
  }
  const credited = taoToNanoUsd(deposit.amountRao, command.taoPrice);
  const payment = receivablePayment(state, credited);
  return [
    DepositCredited.create({
      ...base,
      nanoUsdPerTao: dec(command.taoPrice.nanoUsdPerTao),
      priceVersion: command.taoPrice.priceVersion,
      credited: dec(credited),
      fromSuspense,
      receivablePaid: dec(payment.paid),
      postings: [
        ...raoPosting(source, TaoLedgerAccount.converted, deposit.amountRao),
        ...(credited > 0n
          ? [
              {
                from: PlatformLedgerAccount.taoReceived,
                to: customerLedgerAccount(command.accountId),
                amount: dec(credited),
              },
            ]
          : []),
        ...payment.postings,
      ],
    }),
  ];
}

/** Applies deposit events on the account's stream; false for any other event. */
export function evolveDeposit(state: AccountState, event: Event): boolean {
  if (DepositCredited.is(event)) {
    state.deposits.set(
      event.data.idempotencyKey,
      creditOutcome(event.data.credited, event.data.priceVersion),
    );
    state.pendingDeposits.delete(event.data.idempotencyKey);
    applyIncoming(state, BigInt(event.data.credited), BigInt(event.data.receivablePaid));
    return true;
  }
  // A deposit ignored for lack of a price (the release before suspense) waits like a suspended one.
  if (DepositSuspended.is(event) || (DepositIgnored.is(event) && event.data.reason === 'no-tao-price')) {
    const { idempotencyKey, amountRao, blockHash, blockNumber, eventIndex, from } = event.data;
    state.deposits.set(idempotencyKey, '');
    state.pendingDeposits.set(idempotencyKey, {
      amountRao: BigInt(amountRao),
      blockHash,
      blockNumber,
      eventIndex,
      from,
    });
    return true;
  }
  if (DepositIgnored.is(event)) {
    state.deposits.set(event.data.idempotencyKey, '');
    state.pendingDeposits.delete(event.data.idempotencyKey);
    return true;
  }
  return false;
}
