import { z } from 'zod';
import { positiveNanoUsdSchema, raoSchema } from '../amounts.js';

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
 * A ledger account name, `<kind>:<name>`:
 * - `customer:<accountId>` — a customer's spendable balance;
 * - `grant:<grantId>` — credit held by a proxy replica;
 * - `receivable:<accountId>` — usage a customer owes (negative while owed);
 * - `platform:<name>` — the platform's own accounts (revenue, promotions, TAO received in USD);
 * - `tao:<name>` — the platform's TAO, counted in **rao** (see {@link TaoLedgerAccount}).
 * Every other kind counts nano-USD. A posting never moves money between the two units.
 */
export const ledgerAccountSchema = z
  .string()
  .max(300)
  .regex(/^(customer|grant|receivable|platform|tao):\S+$/, 'must be <kind>:<name>');

/** The platform's own ledger accounts, in nano-USD. */
export const PlatformLedgerAccount = {
  /** The USD value credited for TAO that arrived (the counterpart of customers' deposits). */
  taoReceived: 'platform:tao-received',
  promotions: 'platform:promotions',
  freeAllowance: 'platform:free-allowance',
  revenueInference: 'platform:revenue:inference',
  revenueTraining: 'platform:revenue:training',
  revenueDeployment: 'platform:revenue:deployment',
} as const;

/**
 * The platform's TAO, in rao. Every transfer to a deposit address leaves `tao:inflow` (so its
 * balance is minus all TAO ever received) for exactly one of: `tao:converted` (credited to a
 * customer at a TAO price), `tao:dust` (below the minimum deposit, kept, not credited) or
 * `tao:suspense` (booked but not credited yet: no TAO price, or an address nobody claimed); a
 * suspended deposit later moves from `tao:suspense` to `tao:converted` when it is credited.
 */
export const TaoLedgerAccount = {
  inflow: 'tao:inflow',
  converted: 'tao:converted',
  dust: 'tao:dust',
  suspense: 'tao:suspense',
} as const;

/** The ledger account of a customer's spendable balance. */
export const customerLedgerAccount = (accountId: string): string => `customer:${accountId}`;
/** The ledger account holding a grant's unspent credit. */
export const grantLedgerAccount = (grantId: string): string => `grant:${grantId}`;
/** The ledger account of what a customer owes for usage beyond its grant and balance. */
export const receivableLedgerAccount = (accountId: string): string => `receivable:${accountId}`;
/** Whether a ledger account counts rao (the `tao:` kind) rather than nano-USD. */
export const isRaoLedgerAccount = (ledgerAccount: string): boolean => ledgerAccount.startsWith('tao:');

/**
 * One double-entry posting: `amount` leaves `from` and arrives in `to`, in the unit of both
 * accounts (rao between `tao:` accounts, nano-USD otherwise). Every ledger account's balance is
 * (received − sent), so the balances of each unit always sum to zero.
 */
export const postingSchema = z
  .object({
    from: ledgerAccountSchema,
    to: ledgerAccountSchema,
    /** > 0; rao for `tao:` accounts (at most MAX_RAO), else nano-USD (at most MAX_NANO_USD). */
    amount: positiveNanoUsdSchema,
  })
  .refine((posting) => isRaoLedgerAccount(posting.from) === isRaoLedgerAccount(posting.to), {
    message: 'a posting moves rao between tao: accounts or nano-USD between the others, never both',
  })
  .refine((posting) => !isRaoLedgerAccount(posting.from) || raoSchema.safeParse(posting.amount).success, {
    message: 'a rao posting moves at most MAX_RAO',
    path: ['amount'],
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
  requestsPerMinute: z.int().positive().max(1_000_000_000).nullable(),
  tokensPerMinute: z.int().positive().max(1_000_000_000_000).nullable(),
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
  /** The deposit address derived for a new account already belongs to another account. */
  DepositAddressTaken: 'billing.DEPOSIT_ADDRESS_TAKEN',
  KeyRevoked: 'billing.KEY_REVOKED',
  KeyExpired: 'billing.KEY_EXPIRED',
  GrantExpired: 'billing.GRANT_EXPIRED',
  GrantClosed: 'billing.GRANT_CLOSED',
  /** A grant is settled only by the holder it was granted to. */
  NotGrantHolder: 'billing.NOT_GRANT_HOLDER',
  SettleExceedsGrant: 'billing.SETTLE_EXCEEDS_GRANT',
  /** The account owes usage (a receivable); it gets no new credit until a payment covers it. */
  ReceivableOutstanding: 'billing.RECEIVABLE_OUTSTANDING',
  UnknownPrice: 'billing.UNKNOWN_PRICE',
  /** Converting TAO needs a TAO price, and none is set. */
  NoTaoPrice: 'billing.NO_TAO_PRICE',
  /** No suspended deposit has that key, or it was already credited to another account. */
  SuspendedDepositNotFound: 'billing.SUSPENDED_DEPOSIT_NOT_FOUND',
} as const;

/** An idempotency key as a caller sends it. */
export const idempotencyKeySchema = z.string().min(1).max(200);

/**
 * An idempotency key as events store it: the caller's key behind the kind of operation
 * (`credit:…`, `grant:…`, `usage:…`) or a deposit's chain position (`deposit:<blockHash>:<eventIndex>`).
 */
export const storedIdempotencyKeySchema = z.string().min(1).max(300);

/** A request or charge id (the idempotency key of a usage charge). */
export const usageIdSchema = z.string().min(1).max(200);

/** What usage is for: a model for inference, a GPU type for training and deployments. */
export const usageItemSchema = z.string().min(1).max(200);
