import { billingEventContracts, billingRpcContracts } from './billing/catalog.js';
import { chainEventContracts, chainRpcContracts } from './chain/catalog.js';
import { type EventContract } from './define-event.js';
import { type RpcContract } from './define-rpc.js';
import { inferenceEventContracts } from './inference/catalog.js';
import { schedulerEventContracts, schedulerRpcContracts } from './scheduler/catalog.js';
import { scoringEventContracts } from './scoring/catalog.js';

/**
 * Every contract the platform declares, gathered from each context's own catalog. A context adds
 * its contracts to its `catalog.ts`; the snapshot test renders this list, so a contract missing
 * from it escapes review.
 */
export const eventContracts: readonly EventContract[] = [
  ...chainEventContracts,
  ...scoringEventContracts,
  ...billingEventContracts,
  ...inferenceEventContracts,
  ...schedulerEventContracts,
];

/** Every request/reply contract the platform declares. */
export const rpcContracts: readonly RpcContract[] = [
  ...chainRpcContracts,
  ...billingRpcContracts,
  ...schedulerRpcContracts,
];
