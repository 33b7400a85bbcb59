import { BillingErrorCode, ErrorCode, TesseraError } from '@tessera/contracts';

/** Domain errors billing raises on purpose; each is a TesseraError with a stable code. */
export const billingErrors = {
  accountNotFound: (accountId: string) =>
    new TesseraError(ErrorCode.NotFound, `account ${accountId} does not exist`, { details: { accountId } }),
  accountExists: (accountId: string) =>
    new TesseraError(BillingErrorCode.AccountExists, `account ${accountId} already exists`, {
      details: { accountId },
    }),
  accountClosed: (accountId: string) =>
    new TesseraError(BillingErrorCode.AccountClosed, `account ${accountId} is closed`, {
      details: { accountId },
    }),
  accountSuspended: (accountId: string) =>
    new TesseraError(BillingErrorCode.AccountSuspended, `account ${accountId} is suspended`, {
      details: { accountId },
    }),
  insufficientFunds: (accountId: string, available: bigint, needed: bigint) =>
    new TesseraError(
      ErrorCode.InsufficientFunds,
      `account ${accountId} has ${available} nano-USD, needs ${needed}`,
      {
        details: { accountId, available: available.toString(), needed: needed.toString() },
      },
    ),
  idempotencyMismatch: (key: string) =>
    new TesseraError(
      ErrorCode.IdempotencyMismatch,
      `idempotency key ${key} was used with different content`,
      {
        details: { idempotencyKey: key },
      },
    ),
  keyNotFound: (keyId: string) =>
    new TesseraError(ErrorCode.NotFound, `api key ${keyId} does not exist`, { details: { keyId } }),
  grantNotFound: (grantId: string) =>
    new TesseraError(ErrorCode.NotFound, `grant ${grantId} does not exist`, { details: { grantId } }),
  grantExpired: (grantId: string) =>
    new TesseraError(BillingErrorCode.GrantExpired, `grant ${grantId} expired`, { details: { grantId } }),
  grantClosed: (grantId: string) =>
    new TesseraError(BillingErrorCode.GrantClosed, `grant ${grantId} is already settled`, {
      details: { grantId },
    }),
  settleExceedsGrant: (grantId: string, remaining: bigint, usage: bigint) =>
    new TesseraError(
      BillingErrorCode.SettleExceedsGrant,
      `usage ${usage} exceeds the ${remaining} nano-USD left in grant ${grantId}`,
      { details: { grantId, remaining: remaining.toString(), usage: usage.toString() } },
    ),
  unknownPrice: (what: string) =>
    new TesseraError(BillingErrorCode.UnknownPrice, `no price for ${what}`, { details: { item: what } }),
};
