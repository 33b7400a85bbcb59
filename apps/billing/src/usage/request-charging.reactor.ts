import { RequestCompleted, Streams, type Event } from '@tessera/contracts';
import { type Reactor } from '@tessera/eventstore';
import { type AccountService } from '../accounts/account.service.js';
import { type PriceBookService } from '../prices/price-book.service.js';
import { tokenCharge } from '../prices/price-book.decider.js';
import { billingErrors } from '../shared/errors.js';
import { utcDay } from '../shared/tokens.js';

/**
 * Charges completed inference requests, once per request id (the account aggregate keeps the id),
 * through the request's grant, then the balance, booking what is left as owed: the request
 * already happened. A redelivery after a crash is a no-op. Tokens are charged whatever the
 * status: a cancelled stream still produced what it streamed. A request for a model without a
 * price is parked (UNKNOWN_PRICE), for the operator to replay once the price is set.
 */
export function requestChargingReactor(accounts: AccountService, prices: PriceBookService): Reactor {
  return {
    name: 'billing-request-charging',
    stream: Streams.INFERENCE,
    handles: [RequestCompleted],
    async react(events: readonly Event[]) {
      const book = await prices.current();
      // Accounts are independent: charge them concurrently; one account's charges queue in order.
      await Promise.all(
        events.map(async (event) => {
          if (!RequestCompleted.is(event)) return;
          const data = event.data;
          const price = book.models.get(data.model);
          if (!price) throw billingErrors.unknownPrice(`model ${data.model}`);
          await accounts.execute(
            {
              kind: 'charge',
              accountId: data.accountId,
              charge: {
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
              },
              dailyAllowance: accounts.dailyAllowance,
              overdraft: 'cap',
            },
            'service:inference-proxy',
          );
        }),
      );
    },
  };
}
