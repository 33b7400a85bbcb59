import { Streams, TransferObserved, type Event } from '@tessera/contracts';
import { type Reactor } from '@tessera/eventstore';
import { type AccountService } from '../accounts/account.service.js';
import { type PriceBookService } from '../prices/price-book.service.js';
import { type DepositAddressService } from './deposit-address.service.js';
import { depositKey, type ObservedDeposit } from './deposit.decide.js';

/**
 * Books every `chain.TransferObserved`, once per (block hash, event index): the deposit address's
 * own aggregate says whose the address is (read through the event store, so no read model's lag
 * can lose a deposit). Claimed: the account credits it at the TAO price in force, or books it on
 * `tao:suspense` until there is one. Unclaimed: the address's stream books it on `tao:suspense`.
 * Both commands are idempotent, so a transfer delivered again after a crash changes nothing.
 */
export function depositCreditingReactor(
  addresses: DepositAddressService,
  accounts: AccountService,
  prices: PriceBookService,
): Reactor {
  return {
    name: 'billing-deposit-crediting',
    stream: Streams.CHAIN,
    handles: [TransferObserved],
    async react(events: readonly Event[]) {
      for (const event of events) {
        if (!TransferObserved.is(event)) continue;
        const transfer = event.data;
        const deposit: ObservedDeposit = {
          blockHash: transfer.blockHash,
          blockNumber: transfer.blockNumber,
          eventIndex: transfer.eventIndex,
          from: transfer.from,
          amountRao: BigInt(transfer.amount),
        };
        const address = await addresses.receive(transfer.to, deposit);
        // Unclaimed (booked on the address's suspense), or booked there before the claim came.
        if (address.claimedBy === undefined || address.suspended.has(depositKey(deposit))) continue;
        await accounts.execute(
          {
            kind: 'creditDeposit',
            accountId: address.claimedBy,
            deposit,
            minimumRao: accounts.minimumDepositRao,
            taoPrice: await prices.taoPrice(),
            source: 'inflow',
          },
          'service:billing',
        );
      }
    },
  };
}
