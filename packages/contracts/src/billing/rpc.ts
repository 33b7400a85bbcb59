import { z } from 'zod';
import { nanoUsdSchema, positiveDecimalStringSchema, signedDecimalStringSchema } from '../amounts.js';
import { ss58AddressSchema } from '../chain/primitives.js';
import { defineRpc } from '../define-rpc.js';
import { ErrorCode } from '../errors.js';
import {
  BillingErrorCode,
  accountIdSchema,
  apiKeyIdSchema,
  apiKeyLimitsSchema,
  apiKeyScopeSchema,
  grantIdSchema,
  ledgerAccountSchema,
  utcDaySchema,
} from './primitives.js';

const accountStatusSchema = z.enum(['open', 'suspended', 'closed']);
const idempotencyKeySchema = z.string().min(1).max(200);

/** Opens an account and assigns its deposit address. */
export const OpenAccount = defineRpc({
  subject: 'rpc.billing.openAccount',
  request: z.object({ accountId: accountIdSchema, name: z.string().min(1).max(200) }),
  response: z.object({ accountId: accountIdSchema, depositAddress: ss58AddressSchema }),
  errors: [BillingErrorCode.AccountExists],
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
  errors: [ErrorCode.NotFound, BillingErrorCode.AccountClosed],
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
    balance: nanoUsdSchema,
    /** Held in open grants, nano-USD. */
    held: nanoUsdSchema,
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
    scopes: z.array(apiKeyScopeSchema).min(1),
    limits: apiKeyLimitsSchema.default({ requestsPerMinute: null, tokensPerMinute: null }),
    expiresAt: z.iso.datetime().nullable().default(null),
  }),
  response: apiKeySummarySchema.extend({ key: z.string() }),
  errors: [ErrorCode.NotFound, BillingErrorCode.AccountClosed],
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
  errors: [ErrorCode.NotFound],
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
    amount: positiveDecimalStringSchema,
    reason: z.string().max(500).default(''),
  }),
  response: z.object({ accountId: accountIdSchema, balance: nanoUsdSchema }),
  errors: [ErrorCode.NotFound, ErrorCode.IdempotencyMismatch, BillingErrorCode.AccountClosed],
});

/** Moves up to `requested` from the balance into a grant held by `holder`. */
export const GrantCredit = defineRpc({
  subject: 'rpc.billing.grantCredit',
  request: z.object({
    accountId: accountIdSchema,
    holder: z.string().min(1).max(200),
    requested: positiveDecimalStringSchema,
    /** Makes a retried call return the same grant. */
    idempotencyKey: idempotencyKeySchema.optional(),
  }),
  response: z.object({ grantId: grantIdSchema, granted: nanoUsdSchema, expiresAt: z.iso.datetime() }),
  errors: [
    ErrorCode.NotFound,
    ErrorCode.InsufficientFunds,
    ErrorCode.IdempotencyMismatch,
    BillingErrorCode.AccountClosed,
    BillingErrorCode.AccountSuspended,
  ],
});

/** One item of usage settled against a grant; charged once per `requestId`. */
export const grantUsageSchema = z.object({
  requestId: z.string().min(1).max(200),
  amount: positiveDecimalStringSchema,
  item: z.string().min(1).max(200).default('usage'),
});

/** Charges the usage against the grant and returns the rest to the balance; closes the grant. */
export const SettleGrant = defineRpc({
  subject: 'rpc.billing.settleGrant',
  request: z.object({ grantId: grantIdSchema, usage: z.array(grantUsageSchema).max(10_000) }),
  response: z.object({ grantId: grantIdSchema, charged: nanoUsdSchema, returned: nanoUsdSchema }),
  errors: [
    ErrorCode.NotFound,
    BillingErrorCode.GrantExpired,
    BillingErrorCode.GrantClosed,
    BillingErrorCode.SettleExceedsGrant,
  ],
});

/** Charges GPU time without a grant (training jobs, dedicated deployments), only up to the balance. */
export const ChargeGpuUsage = defineRpc({
  subject: 'rpc.billing.chargeGpuUsage',
  request: z.object({
    accountId: accountIdSchema,
    chargeId: idempotencyKeySchema,
    product: z.enum(['training', 'deployment']),
    gpuType: z.string().min(1).max(100),
    gpuSeconds: z.int().positive(),
  }),
  response: z.object({ chargeId: z.string(), amount: nanoUsdSchema, priceVersion: z.int().positive() }),
  errors: [
    ErrorCode.NotFound,
    ErrorCode.InsufficientFunds,
    ErrorCode.IdempotencyMismatch,
    BillingErrorCode.AccountClosed,
    BillingErrorCode.AccountSuspended,
    BillingErrorCode.UnknownPrice,
  ],
});

/** Sets the TAO/USD rate deposits are credited at. */
export const SetTaoPrice = defineRpc({
  subject: 'rpc.billing.setTaoPrice',
  request: z.object({ nanoUsdPerTao: positiveDecimalStringSchema }),
  response: z.object({ priceVersion: z.int().positive() }),
});

/** Sets a model's token prices. */
export const SetModelPrice = defineRpc({
  subject: 'rpc.billing.setModelPrice',
  request: z.object({
    model: z.string().min(1).max(200),
    inputNanoUsdPerMillion: nanoUsdSchema,
    outputNanoUsdPerMillion: nanoUsdSchema,
  }),
  response: z.object({ priceVersion: z.int().positive() }),
});

/** Sets a GPU type's hourly prices. */
export const SetGpuPrice = defineRpc({
  subject: 'rpc.billing.setGpuPrice',
  request: z.object({
    gpuType: z.string().min(1).max(100),
    trainingNanoUsdPerHour: nanoUsdSchema,
    deploymentNanoUsdPerHour: nanoUsdSchema,
  }),
  response: z.object({ priceVersion: z.int().positive() }),
});

/** The current price book. */
export const GetPriceBook = defineRpc({
  subject: 'rpc.billing.getPriceBook',
  request: z.object({}),
  response: z.object({
    priceVersion: z.int().nonnegative(),
    nanoUsdPerTao: nanoUsdSchema.nullable(),
    models: z.array(
      z.object({
        model: z.string(),
        inputNanoUsdPerMillion: nanoUsdSchema,
        outputNanoUsdPerMillion: nanoUsdSchema,
      }),
    ),
    gpus: z.array(
      z.object({
        gpuType: z.string(),
        trainingNanoUsdPerHour: nanoUsdSchema,
        deploymentNanoUsdPerHour: nanoUsdSchema,
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
        promptTokens: nanoUsdSchema,
        completionTokens: nanoUsdSchema,
        gpuSeconds: nanoUsdSchema,
        amount: nanoUsdSchema,
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
  change: signedDecimalStringSchema,
  balanceAfter: signedDecimalStringSchema,
});

/** The ledger entries of a customer account, oldest first, paged by cursor. */
export const ListLedgerEntries = defineRpc({
  subject: 'rpc.billing.listLedgerEntries',
  request: z.object({
    accountId: accountIdSchema,
    after: z.string().optional(),
    limit: z.int().min(1).max(1_000).default(100),
  }),
  response: z.object({ entries: z.array(ledgerEntrySchema), next: z.string().nullable() }),
  errors: [ErrorCode.NotFound],
});

/** A CSV statement of ledger entries between two UTC days (inclusive). */
export const ExportStatement = defineRpc({
  subject: 'rpc.billing.exportStatement',
  request: z.object({ accountId: accountIdSchema, from: utcDaySchema, to: utcDaySchema }),
  response: z.object({ csv: z.string() }),
  errors: [ErrorCode.NotFound],
});
