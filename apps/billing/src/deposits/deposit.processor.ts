import { Streams, TransferObserved, type Event } from '@tessera/contracts';
import { type Reactor } from '@tessera/eventstore';
import { type DataSource } from 'typeorm';
import { type AccountService } from '../accounts/account.service.js';
import { type PriceBookService } from '../prices/price-book.service.js';

/** How long a transfer waits for its address to appear in the directory (projection lag). */
const ADDRESS_WAIT_MS = 3_000;

/**
 * Credits deposits: consumes `chain.TransferObserved` with a durable consumer (checkpointed like a
 * projection) and credits the account once per (block hash, event index) — the account aggregate
 * keeps the key, so a redelivered or replayed transfer is a no-op. The rate used is the TAO price
 * in force when the transfer is first processed, recorded on the posting.
 */
export function depositProcessor(
  accounts: AccountService,
  prices: PriceBookService,
  dataSource: DataSource,
  log: (message: string, context: Record<string, unknown>) => void,
): Reactor {
  async function accountFor(address: string): Promise<string | undefined> {
    const deadline = Date.now() + ADDRESS_WAIT_MS;
    for (;;) {
      const rows = (await dataSource.query(
        'SELECT account_id FROM billing_accounts WHERE deposit_address = $1',
        [address],
      )) as { account_id: string }[];
      if (rows[0]) return rows[0].account_id;
      if (Date.now() > deadline) return undefined;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  return {
    name: 'billing-deposits',
    stream: Streams.CHAIN,
    handles: [TransferObserved],
    async react(events: readonly Event[]) {
      for (const event of events) {
        if (!TransferObserved.is(event)) continue;
        const transfer = event.data;
        const accountId = await accountFor(transfer.to);
        if (accountId === undefined) {
          log('transfer to an address that is no customer deposit address; not credited', {
            to: transfer.to,
            blockHash: transfer.blockHash,
            eventIndex: transfer.eventIndex,
          });
          continue;
        }
        const book = await prices.current();
        await accounts.creditDeposit(
          accountId,
          {
            blockHash: transfer.blockHash,
            blockNumber: transfer.blockNumber,
            eventIndex: transfer.eventIndex,
            from: transfer.from,
            amountRao: BigInt(transfer.amount),
          },
          book.nanoUsdPerTao === undefined
            ? undefined
            : { nanoUsdPerTao: book.nanoUsdPerTao, priceVersion: book.version },
        );
      }
    },
  };
}
