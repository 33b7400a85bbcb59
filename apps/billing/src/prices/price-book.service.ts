import { Injectable } from '@nestjs/common';
import { streamIdOf } from '@tessera/contracts';
import { AggregateCache, EventStore } from '@tessera/eventstore';
import { type TaoPrice } from '../deposits/deposit.decide.js';
import { priceBookDecider, type PriceBookCommand, type PriceBookState } from './price-book.decider.js';

const PRICE_BOOK_STREAM = streamIdOf('billing', 'pricebook', 'default');
/** Another replica may have changed a price: look at the stream's head at most this often. */
const REFRESH_AFTER_MS = 1_000;

/** The price book aggregate, cached; reads refresh it when another replica moved it. */
@Injectable()
export class PriceBookService {
  private readonly cache: AggregateCache<PriceBookCommand, PriceBookState>;
  private checkedAt = 0;
  private readonly changeListeners: (() => void)[] = [];

  constructor(private readonly store: EventStore) {
    this.cache = new AggregateCache(store, priceBookDecider);
  }

  /** Applies a price change; returns the new price book version. */
  async change(command: PriceBookCommand, actor: string): Promise<number> {
    const result = await this.cache.execute(PRICE_BOOK_STREAM, command, { actor });
    for (const listener of this.changeListeners) listener();
    return result.state.version;
  }

  /** Calls `listener` after every price change this replica makes (the suspense sweeper credits waiting TAO). */
  onChange(listener: () => void): void {
    this.changeListeners.push(listener);
  }

  /**
   * The price book, looked up again when another replica may have moved it: at most every
   * {@link REFRESH_AFTER_MS}, or at once with `fresh`. A decision that a missing price would turn
   * into a refusal or a suspense asks for `fresh`: a book this replica read a moment before another
   * set the price must not park a charge or suspend a deposit.
   */
  async current(options: { fresh?: boolean } = {}): Promise<PriceBookState> {
    if (options.fresh === true || Date.now() - this.checkedAt > REFRESH_AFTER_MS) {
      this.checkedAt = Date.now();
      const head = await this.store.currentPosition(PRICE_BOOK_STREAM);
      if (head.sequence !== (this.cache.cachedPosition(PRICE_BOOK_STREAM)?.sequence ?? -1)) {
        this.cache.invalidate(PRICE_BOOK_STREAM);
      }
    }
    return this.cache.read(PRICE_BOOK_STREAM);
  }

  /** The TAO price in force, if one is set (read fresh: deposits are few, and one must not be suspended for a stale book). */
  async taoPrice(): Promise<TaoPrice | undefined> {
    const book = await this.current({ fresh: true });
    return book.nanoUsdPerTao === undefined
      ? undefined
      : { nanoUsdPerTao: book.nanoUsdPerTao, priceVersion: book.version };
  }
}
