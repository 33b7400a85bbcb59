import { z } from 'zod';
import { nanoUsdSchema, positivePriceNanoUsdSchema, raoSchema } from '../amounts.js';
import { defineEvent } from '../define-event.js';
import { hashHexSchema, ss58AddressSchema, blockNumberSchema } from '../chain/primitives.js';
import {
  accountIdSchema,
  grantIdSchema,
  postingSchema,
  productSchema,
  storedIdempotencyKeySchema,
  usageIdSchema,
  usageItemSchema,
  utcDaySchema,
} from './primitives.js';

/**
 * Every money event carries the idempotency key that caused it and all legs of its movement in
 * `postings` (nano-USD and rao alike), so the ledger projection derives every ledger account,
 * platform ones included, from the events alone. Customer money lives on the customer's stream
 * (`billing.account.<accountId>`); TAO that no account can take yet lives on its deposit
 * address's stream (`billing.deposit-address.<address>`).
 */
const postingsSchema = z.array(postingSchema).max(100);

/** Where a transfer to a deposit address sits on the chain, and what it carried. */
const depositShape = {
  /** `deposit:<blockHash>:<eventIndex>`: a transfer is booked once, however often it is observed. */
  idempotencyKey: storedIdempotencyKeySchema,
  blockHash: hashHexSchema,
  blockNumber: blockNumberSchema,
  eventIndex: z.int().nonnegative(),
  from: ss58AddressSchema,
  amountRao: raoSchema,
} as const;

/**
 * TAO arrived at the account's deposit address and was credited at the rate in force: `amountRao`
 * moves from `tao:inflow` (or from `tao:suspense`, when it was booked there first) to
 * `tao:converted`, and `credited` nano-USD from `platform:tao-received` to the customer; out of
 * that, `receivablePaid` goes straight to what the customer owed.
 *
 * v2: the rao legs are in `postings` (v1 held only the nano-USD leg; billing upcasts v1).
 */
export const DepositCredited = defineEvent({
  type: 'billing.DepositCredited',
  version: 2,
  data: z.object({
    accountId: accountIdSchema,
    ...depositShape,
    /** The rate used: nano-USD per TAO, and the price book version it came from. */
    nanoUsdPerTao: positivePriceNanoUsdSchema,
    priceVersion: z.int().positive(),
    credited: nanoUsdSchema,
    /** Whether the TAO had been booked on `tao:suspense` before (no price, or no claim, then). */
    fromSuspense: z.boolean(),
    receivablePaid: nanoUsdSchema,
    postings: postingsSchema,
  }),
});

/**
 * A deposit below the configured minimum: booked (`tao:inflow` → `tao:dust`), not credited.
 *
 * v2: carries its rao posting. `no-tao-price` appears only in events of the release before
 * suspense existed; billing upcasts those to a posting onto `tao:suspense`, and credits them
 * once a price is set, like a {@link DepositSuspended}.
 */
export const DepositIgnored = defineEvent({
  type: 'billing.DepositIgnored',
  version: 2,
  data: z.object({
    accountId: accountIdSchema,
    ...depositShape,
    minimumRao: raoSchema,
    reason: z.enum(['below-minimum', 'no-tao-price']),
    postings: postingsSchema,
  }),
});

/**
 * TAO arrived but cannot be credited yet, so it is booked in rao on `tao:suspense`:
 * - `no-tao-price`: on the account's stream; credited at the first TAO price;
 * - `unclaimed-address`: on the address's stream (`accountId` null) — no account claimed the
 *   address; credited once an account does, or when the operator says to whom.
 */
export const DepositSuspended = defineEvent({
  type: 'billing.DepositSuspended',
  version: 1,
  data: z.object({
    address: ss58AddressSchema,
    accountId: accountIdSchema.nullable(),
    ...depositShape,
    reason: z.enum(['no-tao-price', 'unclaimed-address']),
    postings: postingsSchema,
  }),
});

/** The operator credited an account (promotion, goodwill, manual top-up). */
export const AccountCredited = defineEvent({
  type: 'billing.AccountCredited',
  version: 1,
  data: z.object({
    accountId: accountIdSchema,
    idempotencyKey: storedIdempotencyKeySchema,
    amount: nanoUsdSchema,
    reason: z.string().max(500),
    /** Out of `amount`, what went straight to the customer's receivable (0 before receivables). */
    receivablePaid: nanoUsdSchema.default('0'),
    postings: postingsSchema,
  }),
});

/** Credit moved from the balance into a grant held by one proxy replica. */
export const CreditGranted = defineEvent({
  type: 'billing.CreditGranted',
  version: 1,
  data: z.object({
    accountId: accountIdSchema,
    grantId: grantIdSchema,
    idempotencyKey: storedIdempotencyKeySchema,
    holder: z.string().min(1).max(200),
    requested: nanoUsdSchema,
    granted: nanoUsdSchema,
    expiresAt: z.iso.datetime(),
    postings: postingsSchema,
  }),
});

/**
 * Usage was charged, exactly once per `requestId` (the idempotency key of a charge): from the
 * free allowance, then the grant, then the balance; whatever is left (`uncollected`: the request
 * already happened) is booked on the customer's receivable, which later credits pay first.
 *
 * v2: the receivable leg is in `postings` (v1 left `uncollected` off the books; billing upcasts v1).
 */
export const UsageCharged = defineEvent({
  type: 'billing.UsageCharged',
  version: 2,
  data: z.object({
    accountId: accountIdSchema,
    requestId: usageIdSchema,
    grantId: grantIdSchema.nullable(),
    product: productSchema,
    /** Model for inference, GPU type for training and deployments. */
    item: usageItemSchema,
    promptTokens: z.int().nonnegative(),
    completionTokens: z.int().nonnegative(),
    gpuSeconds: z.int().nonnegative(),
    /** Price book version the amount was computed with; null when the caller priced it. */
    priceVersion: z.int().positive().nullable(),
    /** UTC day the usage counts to (free allowance, statements). */
    day: utcDaySchema,
    amount: nanoUsdSchema,
    fromAllowance: nanoUsdSchema,
    fromGrant: nanoUsdSchema,
    fromBalance: nanoUsdSchema,
    /** Owed: booked on `receivable:<accountId>`. */
    uncollected: nanoUsdSchema,
    postings: postingsSchema,
  }),
});

/** The holder settled the grant; the unspent remainder went back to the balance. */
export const GrantSettled = defineEvent({
  type: 'billing.GrantSettled',
  version: 1,
  data: z.object({
    accountId: accountIdSchema,
    grantId: grantIdSchema,
    /** What the settle charged (the sum of its new usage), so a retried settle answers the same. */
    charged: nanoUsdSchema.optional(),
    returned: nanoUsdSchema,
    postings: postingsSchema,
  }),
});

/** The grant outlived its TTL unsettled; its remainder went back to the balance on its own. */
export const GrantExpired = defineEvent({
  type: 'billing.GrantExpired',
  version: 1,
  data: z.object({
    accountId: accountIdSchema,
    grantId: grantIdSchema,
    returned: nanoUsdSchema,
    postings: postingsSchema,
  }),
});
