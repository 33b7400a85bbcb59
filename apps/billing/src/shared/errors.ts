import { BillingErrorCode, ErrorCode, TesseraError, ValidationError } from '@tessera/contracts';

/**
 * Every error billing raises on purpose, and the only place billing builds one: each is a
 * `TesseraError` with a stable code, and each code a handler can reach is declared by its RPC
 * contract (`rpc-errors.spec.ts` drives every handler into every refusal to prove it).
 */
export const billingErrors = {
  accountNotFound: (accountId: string) =>
    new TesseraError(ErrorCode.NotFound, `account ${accountId} does not exist`, { details: { accountId } }),
  accountExists: (accountId: string) =>
    new TesseraError(BillingErrorCode.AccountExists, `account ${accountId} already exists`, {
      details: { accountId },
    }),
  depositAddressTaken: (address: string, accountId: string) =>
    new TesseraError(
      BillingErrorCode.DepositAddressTaken,
      `deposit address ${address} already belongs to another account than ${accountId}`,
      { details: { address, accountId } },
    ),
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
      { details: { accountId, available: available.toString(), needed: needed.toString() } },
    ),
  receivableOutstanding: (accountId: string, owed: bigint) =>
    new TesseraError(
      BillingErrorCode.ReceivableOutstanding,
      `account ${accountId} owes ${owed} nano-USD for past usage; new credit pays it first`,
      { details: { accountId, owed: owed.toString() } },
    ),
  idempotencyMismatch: (key: string) =>
    new TesseraError(
      ErrorCode.IdempotencyMismatch,
      `idempotency key ${key} was used with different content`,
      { details: { idempotencyKey: key } },
    ),
  keyNotFound: (keyId: string) =>
    new TesseraError(ErrorCode.NotFound, `api key ${keyId} does not exist`, { details: { keyId } }),
  /** One answer for every key that does not verify, so a caller learns nothing from it. */
  invalidApiKey: () => new TesseraError(ErrorCode.Unauthorized, 'invalid API key'),
  keyRevoked: () => new TesseraError(BillingErrorCode.KeyRevoked, 'API key revoked'),
  keyExpired: () => new TesseraError(BillingErrorCode.KeyExpired, 'API key expired'),
  grantNotFound: (grantId: string) =>
    new TesseraError(ErrorCode.NotFound, `grant ${grantId} does not exist`, { details: { grantId } }),
  grantExpired: (grantId: string) =>
    new TesseraError(BillingErrorCode.GrantExpired, `grant ${grantId} expired`, { details: { grantId } }),
  grantClosed: (grantId: string) =>
    new TesseraError(BillingErrorCode.GrantClosed, `grant ${grantId} is already settled`, {
      details: { grantId },
    }),
  notGrantHolder: (grantId: string, holder: string) =>
    new TesseraError(BillingErrorCode.NotGrantHolder, `grant ${grantId} is not held by ${holder}`, {
      details: { grantId, holder },
    }),
  settleExceedsGrant: (grantId: string, remaining: bigint, usage: bigint) =>
    new TesseraError(
      BillingErrorCode.SettleExceedsGrant,
      `usage ${usage} exceeds the ${remaining} nano-USD left in grant ${grantId}`,
      { details: { grantId, remaining: remaining.toString(), usage: usage.toString() } },
    ),
  unknownPrice: (what: string) =>
    new TesseraError(BillingErrorCode.UnknownPrice, `no price for ${what}`, { details: { item: what } }),
  noTaoPrice: () =>
    new TesseraError(BillingErrorCode.NoTaoPrice, 'no TAO price is set; set one before crediting TAO'),
  suspendedDepositNotFound: (address: string, depositKey: string) =>
    new TesseraError(
      BillingErrorCode.SuspendedDepositNotFound,
      `no deposit ${depositKey} is suspended on address ${address} for this account`,
      { details: { address, depositKey } },
    ),
  /** Naming the account is required to credit TAO that reached an address nobody claimed. */
  accountIdRequired: (address: string) =>
    new ValidationError('request', [
      { path: 'accountId', message: `required: nobody claimed ${address}, so say whose the deposit is` },
    ]),
  /** A value the database cannot hold (Postgres 22xxx): the caller's input, named by `field`. */
  outOfRange: (field: string, cause: unknown) =>
    new ValidationError('request', [{ path: field, message: 'value out of range' }], cause),
};
