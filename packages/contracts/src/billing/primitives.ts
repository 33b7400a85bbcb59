import { z } from 'zod';
import { decimalStringSchema } from '../amounts.js';

/**
 * A customer account id. Letters, digits, '_' and '-' only: it becomes a subject token
 * (`billing.account.<accountId>`) and a part of grant ids, which use ':' as separator.
 */
export const accountIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "must be 1–64 letters, digits, '_' or '-'");

/**
 * A credit grant id: `<accountId>:<uuid>`. It names its account, so whoever holds a grant can
 * settle it without a lookup, and billing finds the account aggregate without an index.
 */
export const grantIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}:[0-9a-f-]{36}$/, 'must be <accountId>:<uuid>');

/** The account a grant id belongs to. */
export function accountOfGrant(grantId: string): string {
  const index = grantId.lastIndexOf(':');
  if (index <= 0) throw new RangeError(`grant id "${grantId}" has no account part`);
  return grantId.slice(0, index);
}

/**
 * A ledger account name: `customer:<accountId>`, `grant:<grantId>`, or a platform account
 * (`platform:revenue:inference`, `platform:tao-received`, `platform:promotions`, …).
 */
export const ledgerAccountSchema = z
  .string()
  .regex(/^(customer|grant|platform):\S+$/, 'must be <kind>:<name>');

/** The platform's own ledger accounts. */
export const PlatformLedgerAccount = {
  taoReceived: 'platform:tao-received',
  promotions: 'platform:promotions',
  freeAllowance: 'platform:free-allowance',
  revenueInference: 'platform:revenue:inference',
  revenueTraining: 'platform:revenue:training',
  revenueDeployment: 'platform:revenue:deployment',
} as const;

/** The ledger account of a customer's spendable balance. */
export const customerLedgerAccount = (accountId: string): string => `customer:${accountId}`;
/** The ledger account holding a grant's unspent credit. */
export const grantLedgerAccount = (grantId: string): string => `grant:${grantId}`;

/**
 * One double-entry posting: `amount` nano-USD leaves `from` and arrives in `to`. Every ledger
 * account's balance is (received − sent), so the balances of all accounts always sum to zero.
 */
export const postingSchema = z.object({
  from: ledgerAccountSchema,
  to: ledgerAccountSchema,
  /** nano-USD, > 0. */
  amount: decimalStringSchema.refine((value) => value !== '0', 'a posting moves a positive amount'),
});
export type Posting = z.infer<typeof postingSchema>;

/** What an API key may be used for. */
export const apiKeyScopeSchema = z.enum([
  'inference',
  'fine-tuning',
  'deployments',
  'account:read',
  'account:admin',
]);
export type ApiKeyScope = z.infer<typeof apiKeyScopeSchema>;

/** Per-key limits the proxy enforces; null means no limit of that kind. */
export const apiKeyLimitsSchema = z.object({
  requestsPerMinute: z.int().positive().nullable(),
  tokensPerMinute: z.int().positive().nullable(),
});
export type ApiKeyLimits = z.infer<typeof apiKeyLimitsSchema>;

/** An API key id, also the public part of the key string (`tsk_<keyId>_<secret>`). */
export const apiKeyIdSchema = z.string().regex(/^[a-z0-9]{16}$/, 'must be 16 lower-case letters or digits');

/** A UTC calendar day, `YYYY-MM-DD`. */
export const utcDaySchema = z.iso.date();

/** Products billing charges for. */
export const productSchema = z.enum(['inference', 'training', 'deployment']);
export type Product = z.infer<typeof productSchema>;

/** Billing's own error codes, besides the generic ones in `ErrorCode`. */
export const BillingErrorCode = {
  AccountClosed: 'billing.ACCOUNT_CLOSED',
  AccountSuspended: 'billing.ACCOUNT_SUSPENDED',
  AccountExists: 'billing.ACCOUNT_EXISTS',
  KeyRevoked: 'billing.KEY_REVOKED',
  KeyExpired: 'billing.KEY_EXPIRED',
  GrantExpired: 'billing.GRANT_EXPIRED',
  GrantClosed: 'billing.GRANT_CLOSED',
  SettleExceedsGrant: 'billing.SETTLE_EXCEEDS_GRANT',
  UnknownPrice: 'billing.UNKNOWN_PRICE',
} as const;
