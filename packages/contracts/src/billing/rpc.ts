import { z } from 'zod';
import {
  nanoUsdSchema,
  nanoUsdTotalSchema,
  positiveNanoUsdSchema,
  positivePriceNanoUsdSchema,
  priceNanoUsdSchema,
  raoSchema,
  signedDecimalStringSchema,
  signedNanoUsdTotalSchema,
} from '../amounts.js';
import { blockNumberSchema, ss58AddressSchema } from '../chain/primitives.js';
import { defineRpc } from '../define-rpc.js';
import { ErrorCode } from '../errors.js';
import {
  BillingErrorCode,
  accountIdSchema,
  apiKeyIdSchema,
  apiKeyLimitsSchema,
  apiKeyScopeSchema,
  grantIdSchema,
  idempotencyKeySchema,
  ledgerAccountSchema,
  usageIdSchema,
  usageItemSchema,
  utcDaySchema,
} from './primitives.js';

const accountStatusSchema = z.enum(['open', 'suspended', 'closed']);
/** A count summed over many rows (tokens, GPU seconds), as a decimal string. */
const countTotalSchema = z.string().regex(/^(0|[1-9][0-9]{0,39})$/, 'must be a non-negative integer string');
/** Deposits are named by their chain position. */
export const depositKeySchema = z
  .string()
  .regex(/^deposit:0x[0-9a-f]{64}:[0-9]{1,10}$/, 'must be deposit:<block hash>:<event index>');

/** Opens an account and assigns its deposit address. */
export const OpenAccount = defineRpc({
  subject: 'rpc.billing.openAccount',
  request: z.object({ accountId: accountIdSchema, name: z.string().min(1).max(200) }),
  response: z.object({ accountId: accountIdSchema, depositAddress: ss58AddressSchema }),
  errors: [
    BillingErrorCode.AccountExists,
    BillingErrorCode.DepositAddressTaken,
    ErrorCode.ConcurrencyExhausted,
  ],
});

/** Suspends, reinstates or closes an account. */
export const ChangeAccountStatus = defineRpc({
  subject: 'rpc.billing.changeAccountStatus',
  request: z.object({
    accountId: accountIdSchema,
    action: z.enum(['suspend', 'reinstate', 'close']),
    reason: z.string().max(500).default(''),
  }),
  response: z.object({ accountId: accountIdSchema, status: accountStatusSchema }),
  errors: [ErrorCode.NotFound, BillingErrorCode.AccountClosed, ErrorCode.ConcurrencyExhausted],
});

/** An account's status and money. */
export const GetAccount = defineRpc({
  subject: 'rpc.billing.getAccount',
  request: z.object({ accountId: accountIdSchema }),
  response: z.object({
    accountId: accountIdSchema,
    name: z.string(),
    status: accountStatusSchema,
    depositAddress: ss58AddressSchema,
    /** Spendable balance, nano-USD. */
    balance: nanoUsdTotalSchema,
    /** Held in open grants, nano-USD. */
    held: nanoUsdTotalSchema,
    /** Owed for usage beyond grants and balance (the receivable), nano-USD; paid first by new credit. */
    owed: nanoUsdTotalSchema,
    freeAllowanceLeftToday: nanoUsdSchema,
  }),
  errors: [ErrorCode.NotFound],
});

const apiKeySummarySchema = z.object({
  keyId: apiKeyIdSchema,
  name: z.string(),
  scopes: z.array(apiKeyScopeSchema),
  limits: apiKeyLimitsSchema,
  expiresAt: z.iso.datetime().nullable(),
  status: z.enum(['active', 'revoked', 'expired']),
});

/** Issues an API key; the response is the only place the full key ever appears. */
export const IssueApiKey = defineRpc({
  subject: 'rpc.billing.issueApiKey',
  request: z.object({
    accountId: accountIdSchema,
    name: z.string().max(200).default(''),
    scopes: z.array(apiKeyScopeSchema).min(1).max(10),
    limits: apiKeyLimitsSchema.default({ requestsPerMinute: null, tokensPerMinute: null }),
    expiresAt: z.iso.datetime().nullable().default(null),
  }),
  response: apiKeySummarySchema.extend({ key: z.string() }),
  errors: [ErrorCode.NotFound, BillingErrorCode.AccountClosed, ErrorCode.ConcurrencyExhausted],
});

/** Lists an account's keys (never secrets or hashes). */
export const ListApiKeys = defineRpc({
  subject: 'rpc.billing.listApiKeys',
  request: z.object({ accountId: accountIdSchema }),
  response: z.object({ keys: z.array(apiKeySummarySchema) }),
  errors: [ErrorCode.NotFound],
});

/** Revokes a key. */
export const RevokeApiKey = defineRpc({
  subject: 'rpc.billing.revokeApiKey',
  request: z.object({ accountId: accountIdSchema, keyId: apiKeyIdSchema }),
  response: z.object({ keyId: apiKeyIdSchema, status: z.literal('revoked') }),
  errors: [ErrorCode.NotFound, ErrorCode.ConcurrencyExhausted],
});

/** Verifies a presented key (for callers that cannot verify locally from the key events). */
export const VerifyApiKey = defineRpc({
  subject: 'rpc.billing.verifyApiKey',
  request: z.object({ key: z.string().max(200) }),
  response: z.object({
    keyId: apiKeyIdSchema,
    accountId: accountIdSchema,
    scopes: z.array(apiKeyScopeSchema),
    limits: apiKeyLimitsSchema,
  }),
  errors: [
    ErrorCode.Unauthorized,
    BillingErrorCode.KeyRevoked,
    BillingErrorCode.KeyExpired,
    BillingErrorCode.AccountClosed,
    BillingErrorCode.AccountSuspended,
  ],
});

/** Credits an account from the promotions account (operator top-up, goodwill). */
export const CreditAccount = defineRpc({
  subject: 'rpc.billing.creditAccount',
  request: z.object({
    accountId: accountIdSchema,
    idempotencyKey: idempotencyKeySchema,
    amount: positiveNanoUsdSchema,
    reason: z.string().max(500).default(''),
  }),
  response: z.object({ accountId: accountIdSchema, balance: nanoUsdTotalSchema }),
  errors: [
    ErrorCode.NotFound,
    ErrorCode.IdempotencyMismatch,
    BillingErrorCode.AccountClosed,
    ErrorCode.ConcurrencyExhausted,
  ],
});

/** A grant holder: the proxy replica that spends the grant (and alone may settle it). */
export const grantHolderSchema = z.string().min(1).max(200);

/**
 * Moves up to `requested` from the balance into a grant held by `holder`. The idempotency key is
 * required: a retried call (same key, same holder and amount) answers with the grant the first
 * call made instead of holding the money twice.
 */
export const GrantCredit = defineRpc({
  subject: 'rpc.billing.grantCredit',
  request: z.object({
    accountId: accountIdSchema,
    holder: grantHolderSchema,
    requested: positiveNanoUsdSchema,
    idempotencyKey: idempotencyKeySchema,
  }),
  response: z.object({ grantId: grantIdSchema, granted: nanoUsdSchema, expiresAt: z.iso.datetime() }),
  errors: [
    ErrorCode.NotFound,
    ErrorCode.InsufficientFunds,
    ErrorCode.IdempotencyMismatch,
    BillingErrorCode.AccountClosed,
    BillingErrorCode.AccountSuspended,
    BillingErrorCode.ReceivableOutstanding,
    ErrorCode.ConcurrencyExhausted,
  ],
});

/** One item of usage settled against a grant; charged once per `requestId` (the first report wins). */
export const grantUsageSchema = z.object({
  requestId: usageIdSchema,
  amount: positiveNanoUsdSchema,
  item: usageItemSchema.default('usage'),
});

/**
 * Charges the usage against the grant and returns the rest to the balance; closes the grant.
 * Only the grant's holder may settle it. A retried settle (the grant already settled, its usage
 * already charged) answers with the original result.
 */
export const SettleGrant = defineRpc({
  subject: 'rpc.billing.settleGrant',
  request: z.object({
    grantId: grantIdSchema,
    holder: grantHolderSchema,
    usage: z
      .array(grantUsageSchema)
      .max(10_000)
      .refine((usage) => new Set(usage.map((item) => item.requestId)).size === usage.length, {
        message: 'each requestId may appear once in a settle',
      }),
  }),
  response: z.object({ grantId: grantIdSchema, charged: nanoUsdSchema, returned: nanoUsdSchema }),
  errors: [
    ErrorCode.NotFound,
    BillingErrorCode.GrantExpired,
    BillingErrorCode.GrantClosed,
    BillingErrorCode.NotGrantHolder,
    BillingErrorCode.SettleExceedsGrant,
    ErrorCode.ConcurrencyExhausted,
  ],
});

/** Charges GPU time without a grant (training jobs, dedicated deployments), only up to the balance. */
export const ChargeGpuUsage = defineRpc({
  subject: 'rpc.billing.chargeGpuUsage',
  request: z.object({
    accountId: accountIdSchema,
    chargeId: usageIdSchema,
    product: z.enum(['training', 'deployment']),
    gpuType: z.string().min(1).max(100),
    /** At most 10^12 (about 31,700 GPU-years) per charge. */
    gpuSeconds: z.int().positive().max(1_000_000_000_000),
  }),
  response: z.object({ chargeId: z.string(), amount: nanoUsdSchema, priceVersion: z.int().positive() }),
  errors: [
    ErrorCode.NotFound,
    ErrorCode.InsufficientFunds,
    ErrorCode.IdempotencyMismatch,
    BillingErrorCode.AccountClosed,
    BillingErrorCode.AccountSuspended,
    BillingErrorCode.ReceivableOutstanding,
    BillingErrorCode.UnknownPrice,
    ErrorCode.ConcurrencyExhausted,
  ],
});

/** Sets the TAO/USD rate deposits are credited at. */
export const SetTaoPrice = defineRpc({
  subject: 'rpc.billing.setTaoPrice',
  request: z.object({ nanoUsdPerTao: positivePriceNanoUsdSchema }),
  response: z.object({ priceVersion: z.int().positive() }),
  errors: [ErrorCode.ConcurrencyExhausted],
});

/** Sets a model's token prices. */
export const SetModelPrice = defineRpc({
  subject: 'rpc.billing.setModelPrice',
  request: z.object({
    model: z.string().min(1).max(200),
    inputNanoUsdPerMillion: priceNanoUsdSchema,
    outputNanoUsdPerMillion: priceNanoUsdSchema,
  }),
  response: z.object({ priceVersion: z.int().positive() }),
  errors: [ErrorCode.ConcurrencyExhausted],
});

/** Sets a GPU type's hourly prices. */
export const SetGpuPrice = defineRpc({
  subject: 'rpc.billing.setGpuPrice',
  request: z.object({
    gpuType: z.string().min(1).max(100),
    trainingNanoUsdPerHour: priceNanoUsdSchema,
    deploymentNanoUsdPerHour: priceNanoUsdSchema,
  }),
  response: z.object({ priceVersion: z.int().positive() }),
  errors: [ErrorCode.ConcurrencyExhausted],
});

/** The current price book. */
export const GetPriceBook = defineRpc({
  subject: 'rpc.billing.getPriceBook',
  request: z.object({}),
  response: z.object({
    priceVersion: z.int().nonnegative(),
    nanoUsdPerTao: priceNanoUsdSchema.nullable(),
    models: z.array(
      z.object({
        model: z.string(),
        inputNanoUsdPerMillion: priceNanoUsdSchema,
        outputNanoUsdPerMillion: priceNanoUsdSchema,
      }),
    ),
    gpus: z.array(
      z.object({
        gpuType: z.string(),
        trainingNanoUsdPerHour: priceNanoUsdSchema,
        deploymentNanoUsdPerHour: priceNanoUsdSchema,
      }),
    ),
  }),
});

/** Usage per day and/or model between two UTC days (inclusive). */
export const GetUsage = defineRpc({
  subject: 'rpc.billing.getUsage',
  request: z.object({
    accountId: accountIdSchema,
    from: utcDaySchema,
    to: utcDaySchema,
    groupBy: z.enum(['day', 'item', 'day-item']).default('day-item'),
  }),
  response: z.object({
    rows: z.array(
      z.object({
        day: utcDaySchema.nullable(),
        item: z.string().nullable(),
        requests: z.int().nonnegative(),
        promptTokens: countTotalSchema,
        completionTokens: countTotalSchema,
        gpuSeconds: countTotalSchema,
        amount: nanoUsdTotalSchema,
      }),
    ),
  }),
  errors: [ErrorCode.NotFound],
});

const ledgerEntrySchema = z.object({
  /** `<event id>:<leg index>`; entries sort by (position, index). */
  entryId: z.string(),
  occurredAt: z.iso.datetime(),
  eventType: z.string(),
  idempotencyKey: z.string(),
  counterparty: ledgerAccountSchema,
  /** Signed change of the account's balance, nano-USD. */
  change: signedNanoUsdTotalSchema,
  balanceAfter: signedNanoUsdTotalSchema,
});

/** A page cursor of the ledger: the id of the last entry seen. */
const ledgerCursorSchema = z.string().regex(/^[1-9][0-9]{0,18}$/, 'must be a cursor from a previous page');

/** The ledger entries of a customer account, oldest first, paged by cursor. */
export const ListLedgerEntries = defineRpc({
  subject: 'rpc.billing.listLedgerEntries',
  request: z.object({
    accountId: accountIdSchema,
    after: ledgerCursorSchema.optional(),
    limit: z.int().min(1).max(1_000).default(100),
  }),
  response: z.object({ entries: z.array(ledgerEntrySchema), next: z.string().nullable() }),
  errors: [ErrorCode.NotFound],
});

/** A CSV statement of ledger entries between two UTC days (inclusive). */
export const ExportStatement = defineRpc({
  subject: 'rpc.billing.exportStatement',
  request: z
    .object({ accountId: accountIdSchema, from: utcDaySchema, to: utcDaySchema })
    .refine((range) => range.from <= range.to, { message: 'from must not be after to', path: ['to'] }),
  response: z.object({ csv: z.string() }),
  errors: [ErrorCode.NotFound],
});

/** One deposit booked on `tao:suspense`, as the operator sees it. */
export const suspendedDepositSchema = z.object({
  depositKey: depositKeySchema,
  /** The deposit address; null for a deposit the first release recorded without it. */
  address: ss58AddressSchema.nullable(),
  /** The account the deposit is for; null while nobody claimed the address. */
  accountId: accountIdSchema.nullable(),
  amountRao: raoSchema,
  reason: z.enum(['no-tao-price', 'unclaimed-address']),
  /** `open`: waiting; `released`: handed to `accountId`, crediting; `credited`: done. */
  status: z.enum(['open', 'released', 'credited']),
  blockNumber: blockNumberSchema,
  suspendedAt: z.iso.datetime(),
});

/** Deposits booked on `tao:suspense` (operator). */
export const ListSuspendedDeposits = defineRpc({
  subject: 'rpc.billing.listSuspendedDeposits',
  request: z.object({
    status: z.enum(['open', 'released', 'credited']).default('open'),
    limit: z.int().min(1).max(1_000).default(100),
  }),
  response: z.object({ deposits: z.array(suspendedDepositSchema) }),
});

/**
 * Credits a suspended deposit at the current TAO price (operator), as listed by
 * {@link ListSuspendedDeposits}: a deposit to an address nobody claimed needs `address` and the
 * `accountId` it belongs to; one that waited on an account for a price needs `accountId` (or the
 * `address` its account claimed). Idempotent: crediting it again answers the same.
 */
export const CreditSuspendedDeposit = defineRpc({
  subject: 'rpc.billing.creditSuspendedDeposit',
  request: z
    .object({
      depositKey: depositKeySchema,
      address: ss58AddressSchema.optional(),
      accountId: accountIdSchema.optional(),
    })
    .refine((request) => request.address !== undefined || request.accountId !== undefined, {
      message: 'name the address or the account of the deposit',
      path: ['accountId'],
    }),
  response: z.object({
    depositKey: depositKeySchema,
    accountId: accountIdSchema,
    credited: nanoUsdSchema,
    priceVersion: z.int().positive(),
  }),
  errors: [
    ErrorCode.NotFound,
    BillingErrorCode.SuspendedDepositNotFound,
    BillingErrorCode.DepositAddressTaken,
    BillingErrorCode.NoTaoPrice,
    ErrorCode.ConcurrencyExhausted,
  ],
});

/** One disagreement the reconciliation found. */
export const reconciliationMismatchSchema = z.object({
  /** What was compared, e.g. `customer-balance`, `tao-received`, `ledger-sum-nano-usd`. */
  check: z.string(),
  /** The ledger account or account id it concerns. */
  subject: z.string(),
  /** The value from the independent source (the streams). */
  expected: signedDecimalStringSchema,
  /** The value in the ledger read model. */
  actual: signedDecimalStringSchema,
});

/**
 * Checks the ledger against sources that do not depend on it (operator; also run after every
 * integration test): each unit's balances sum to zero; each customer's ledger balance, receivable
 * and held credit equal those folded from its account stream; TAO booked equals the sum of
 * `chain.TransferObserved` to deposit addresses (each transfer counted once).
 */
export const ReconcileBilling = defineRpc({
  subject: 'rpc.billing.reconcile',
  request: z.object({}),
  response: z.object({
    consistent: z.boolean(),
    /** Accounts whose streams were folded. */
    accounts: z.int().nonnegative(),
    /** Distinct transfers in the CHAIN stream, and their rao. */
    transfers: z.int().nonnegative(),
    transferredRao: countTotalSchema,
    /** Rao the ledger booked out of `tao:inflow`. */
    bookedRao: countTotalSchema,
    mismatches: z.array(reconciliationMismatchSchema).max(1_000),
  }),
});
