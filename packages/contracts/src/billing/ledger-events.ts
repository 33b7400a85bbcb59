import { z } from 'zod';
import { nanoUsdSchema, raoSchema } from '../amounts.js';
import { defineEvent } from '../define-event.js';
import { hashHexSchema, ss58AddressSchema, blockNumberSchema } from '../chain/primitives.js';
import { accountIdSchema, grantIdSchema, postingSchema, productSchema, utcDaySchema } from './primitives.js';

/**
 * Every money event lives on the customer's stream (`billing.account.<accountId>`), carries the
 * idempotency key that caused it and all legs of its movement in `postings`, so the ledger
 * projection derives every ledger account (platform ones included) from the account streams.
 */
const postingsSchema = z.array(postingSchema);

/** TAO arrived at the account's deposit address and was credited at the rate in force. */
export const DepositCredited = defineEvent({
  type: 'billing.DepositCredited',
  version: 1,
  data: z.object({
    accountId: accountIdSchema,
    /** `deposit:<blockHash>:<eventIndex>`. */
    idempotencyKey: z.string().min(1),
    blockHash: hashHexSchema,
    blockNumber: blockNumberSchema,
    eventIndex: z.int().nonnegative(),
    from: ss58AddressSchema,
    amountRao: raoSchema,
    /** The rate used: nano-USD per TAO, and the price book version it came from. */
    nanoUsdPerTao: nanoUsdSchema,
    priceVersion: z.int().positive(),
    credited: nanoUsdSchema,
    postings: postingsSchema,
  }),
});

/** A deposit below the configured minimum: recorded, not credited. */
export const DepositIgnored = defineEvent({
  type: 'billing.DepositIgnored',
  version: 1,
  data: z.object({
    accountId: accountIdSchema,
    idempotencyKey: z.string().min(1),
    blockHash: hashHexSchema,
    blockNumber: blockNumberSchema,
    eventIndex: z.int().nonnegative(),
    from: ss58AddressSchema,
    amountRao: raoSchema,
    minimumRao: raoSchema,
    reason: z.enum(['below-minimum', 'no-tao-price']),
  }),
});

/** The operator credited an account (promotion, goodwill, manual top-up). */
export const AccountCredited = defineEvent({
  type: 'billing.AccountCredited',
  version: 1,
  data: z.object({
    accountId: accountIdSchema,
    idempotencyKey: z.string().min(1),
    amount: nanoUsdSchema,
    reason: z.string().max(500),
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
    idempotencyKey: z.string().min(1),
    holder: z.string().min(1).max(200),
    requested: nanoUsdSchema,
    granted: nanoUsdSchema,
    expiresAt: z.iso.datetime(),
    postings: postingsSchema,
  }),
});

/** Usage was charged, exactly once per `requestId` (the idempotency key of a charge). */
export const UsageCharged = defineEvent({
  type: 'billing.UsageCharged',
  version: 1,
  data: z.object({
    accountId: accountIdSchema,
    requestId: z.string().min(1).max(200),
    grantId: grantIdSchema.nullable(),
    product: productSchema,
    /** Model for inference, GPU type for training and deployments. */
    item: z.string().min(1),
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
    /** Owed but not collectable (a late event whose grant closed and balance ran out). */
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
