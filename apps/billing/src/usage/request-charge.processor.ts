import { RequestCompleted, Streams, type Event } from '@tessera/contracts';
import { type Reactor } from '@tessera/eventstore';
import { type AccountService } from '../accounts/account.service.js';
import { type PriceBookService } from '../prices/price-book.service.js';
import { tokenCharge } from '../prices/price-book.decider.js';
import { billingErrors } from '../shared/errors.js';
import { utcDay } from '../shared/tokens.js';

/**
 * Charges completed inference requests: a durable consumer of `inference.RequestCompleted`
 * (checkpointed like a projection). Each request is charged once per request id — the account
 * aggregate keeps the id — through its grant, then the balance; a crash between the charge and
 * the ack only leads to a redelivery that is a no-op. Tokens are charged whatever the status:
 * a cancelled stream still produced what it streamed.
 */
export function requestChargeProcessor(accounts: AccountService, prices: PriceBookService): Reactor {
  return {
    name: 'billing-request-charges',
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
          // Parked in the dead-letter table, to be replayed once the price exists.
          if (!price) throw billingErrors.unknownPrice(`model ${data.model}`);
          await accounts.charge(
            data.accountId,
            {
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
            'cap',
            undefined,
            `service:inference-proxy`,
          );
        }),
      );
    },
  };
}
