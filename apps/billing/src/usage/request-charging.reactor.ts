import { RequestCompleted, Streams, type Event } from '@tessera/contracts';
import { type Reactor } from '@tessera/eventstore';
import { type AccountService } from '../accounts/account.service.js';
import { type PriceBookService } from '../prices/price-book.service.js';
import { tokenCharge } from '../prices/price-book.decider.js';
import { billingErrors } from '../shared/errors.js';
import { utcDay } from '../shared/tokens.js';
import { type UsageCharge } from './usage.decide.js';

/** Most charges decided in one commit: one UsageCharged event each, well under NATS' max payload. */
const CHARGES_PER_COMMIT = 100;

/**
 * Charges completed inference requests, once per request id (the account aggregate keeps the id),
 * through the request's grant, then the balance, booking what is left as owed: the request
 * already happened. A redelivery after a crash is a no-op. Tokens are charged whatever the
 * status: a cancelled stream still produced what it streamed. A request for a model without a
 * price is parked (UNKNOWN_PRICE), for the operator to replay once the price is set.
 *
 * A batch's requests are charged per account, up to {@link CHARGES_PER_COMMIT} in one decision
 * (one commit), in the order they completed: a busy account costs one append per batch, not
 * one per request. A refused charge fails its whole decision; the runner then reacts to the
 * events one at a time, so only that one is parked.
 */
export function requestChargingReactor(accounts: AccountService, prices: PriceBookService): Reactor {
  return {
    name: 'billing-request-charging',
    stream: Streams.INFERENCE,
    handles: [RequestCompleted],
    async react(events: readonly Event[]) {
      let book = await prices.current();
      // A model this replica has no price for may have been priced by another one since it last looked.
      if (events.some((event) => RequestCompleted.is(event) && !book.models.has(event.data.model)))
        book = await prices.current({ fresh: true });
      const byAccount = new Map<string, UsageCharge[]>();
      for (const event of events) {
        if (!RequestCompleted.is(event)) continue;
        const data = event.data;
        const price = book.models.get(data.model);
        if (!price) throw billingErrors.unknownPrice(`model ${data.model}`);
        let charges = byAccount.get(data.accountId);
        if (!charges) byAccount.set(data.accountId, (charges = []));
        charges.push({
          requestId: data.requestId,
          grantId: data.grantId,
          product: 'inference',
          item: data.model,
          promptTokens: data.promptTokens,
          completionTokens: data.completionTokens,
          gpuSeconds: 0,
          priceVersion: book.version,
          amount: tokenCharge(price, data.promptTokens, data.completionTokens),
          day: utcDay(new Date(event.occurredAt)),
        });
      }
      // Accounts are independent: charge them concurrently; one account's commits queue in order.
      await Promise.all(
        [...byAccount].map(async ([accountId, charges]) => {
          for (let from = 0; from < charges.length; from += CHARGES_PER_COMMIT) {
            await accounts.execute(
              {
                kind: 'chargeMany',
                accountId,
                charges: charges.slice(from, from + CHARGES_PER_COMMIT),
                dailyAllowance: accounts.dailyAllowance,
                overdraft: 'cap',
              },
              'service:inference-proxy',
            );
          }
        }),
      );
    },
  };
}
