import { z } from 'zod';
import { raoSchema } from '../amounts.js';
import { defineEvent } from '../define-event.js';
import { blockNumberSchema, hashHexSchema, ss58AddressSchema } from './primitives.js';

/**
 * A TAO transfer to a watched address (a customer's deposit address or a configured one),
 * seen in a finalized block. Its event id is derived from (block hash, event index), so the
 * same transfer is one event however often the indexer replays the block.
 */
export const TransferObserved = defineEvent({
  type: 'chain.TransferObserved',
  version: 1,
  data: z.object({
    from: ss58AddressSchema,
    to: ss58AddressSchema,
    /** Amount in rao. */
    amount: raoSchema,
    blockNumber: blockNumberSchema,
    blockHash: hashHexSchema,
    /** Index of the extrinsic in the block; null when the transfer came from a hook, not an extrinsic. */
    extrinsicIndex: z.int().nonnegative().nullable(),
    /** Index of the `Balances.Transfer` event among the block's events. */
    eventIndex: z.int().nonnegative(),
  }),
});
