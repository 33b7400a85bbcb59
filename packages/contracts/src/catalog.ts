import { DepositAddressAssigned } from './billing/deposit-address-assigned.js';
import * as billingAccountEvents from './billing/account-events.js';
import * as billingApiKeyEvents from './billing/api-key-events.js';
import * as billingLedgerEvents from './billing/ledger-events.js';
import * as billingPriceEvents from './billing/price-events.js';
import { billingRpcContracts } from './billing/rpc.js';
import { RequestCompleted } from './inference/request-completed.js';
import { chainEventContracts, chainRpcContracts } from './chain/index.js';
import { scoringEventContracts } from './scoring/index.js';
import { type EventContract } from './define-event.js';
import { type RpcContract } from './define-rpc.js';

/**
 * Every contract the platform declares. Each context adds its contracts here as it lands;
 * the snapshot test renders this list, so a contract missing from it escapes review.
 */
export const eventContracts: readonly EventContract[] = [
  // chain
  ...chainEventContracts,
  // scoring
  ...scoringEventContracts,
  // billing
  DepositAddressAssigned,
  ...Object.values(billingAccountEvents),
  ...Object.values(billingApiKeyEvents),
  ...Object.values(billingLedgerEvents),
  ...Object.values(billingPriceEvents),
  // inference
  RequestCompleted,
];

/** Every request/reply contract the platform declares. */
export const rpcContracts: readonly RpcContract[] = [
  // chain
  ...chainRpcContracts,
  // billing
  ...billingRpcContracts,
];
