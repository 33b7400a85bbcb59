import { type EventContract } from '../define-event.js';
import { type RpcContract } from '../define-rpc.js';
import { deadLetterContracts } from '../operations/dead-letters.js';
import { AccountClosed, AccountOpened, AccountReinstated, AccountSuspended } from './account-events.js';
import { ApiKeyIssued, ApiKeyRevoked } from './api-key-events.js';
import { DepositAddressAssigned } from './deposit-address-assigned.js';
import { DepositAddressClaimed, SuspendedDepositReleased } from './deposit-address-events.js';
import {
  AccountCredited,
  CreditGranted,
  DepositCredited,
  DepositIgnored,
  DepositSuspended,
  GrantExpired,
  GrantSettled,
  UsageCharged,
} from './ledger-events.js';
import { GpuPriceSet, ModelPriceSet, TaoPriceSet } from './price-events.js';
import {
  ChangeAccountStatus,
  ChargeGpuUsage,
  CreditAccount,
  CreditSuspendedDeposit,
  ExportStatement,
  GetAccount,
  GetPriceBook,
  GetUsage,
  GrantCredit,
  IssueApiKey,
  ListApiKeys,
  ListLedgerEntries,
  ListSuspendedDeposits,
  OpenAccount,
  ReconcileBilling,
  RevokeApiKey,
  SetGpuPrice,
  SetModelPrice,
  SetTaoPrice,
  SettleGrant,
  VerifyApiKey,
} from './rpc.js';

/** Every event billing appends to the `BILLING` stream. */
export const billingEventContracts: readonly EventContract[] = [
  DepositAddressClaimed,
  DepositAddressAssigned,
  AccountOpened,
  AccountSuspended,
  AccountReinstated,
  AccountClosed,
  ApiKeyIssued,
  ApiKeyRevoked,
  DepositCredited,
  DepositIgnored,
  DepositSuspended,
  SuspendedDepositReleased,
  AccountCredited,
  CreditGranted,
  UsageCharged,
  GrantSettled,
  GrantExpired,
  TaoPriceSet,
  ModelPriceSet,
  GpuPriceSet,
];

/** Billing's parked events, for the operator. */
export const BillingDeadLetters = deadLetterContracts('billing');

/** Every request/reply method billing answers. */
export const billingRpcContracts: readonly RpcContract[] = [
  OpenAccount,
  ChangeAccountStatus,
  GetAccount,
  IssueApiKey,
  ListApiKeys,
  RevokeApiKey,
  VerifyApiKey,
  CreditAccount,
  GrantCredit,
  SettleGrant,
  ChargeGpuUsage,
  SetTaoPrice,
  SetModelPrice,
  SetGpuPrice,
  GetPriceBook,
  GetUsage,
  ListLedgerEntries,
  ExportStatement,
  ListSuspendedDeposits,
  CreditSuspendedDeposit,
  ReconcileBilling,
  BillingDeadLetters.list,
  BillingDeadLetters.replay,
];
