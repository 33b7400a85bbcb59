import { DepositAddressAssigned } from './billing/deposit-address-assigned.js';
import { TransferObserved } from './chain/transfer-observed.js';
import { type EventContract } from './define-event.js';
import { type RpcContract } from './define-rpc.js';

/**
 * Every contract the platform declares. Each context adds its contracts here as it lands;
 * the snapshot test renders this list, so a contract missing from it escapes review.
 */
export const eventContracts: readonly EventContract[] = [
  // chain
  TransferObserved,
  // billing
  DepositAddressAssigned,
];

/** Every request/reply contract the platform declares. */
export const rpcContracts: readonly RpcContract[] = [];
