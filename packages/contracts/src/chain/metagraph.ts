import { z } from 'zod';
import { raoSchema } from '../amounts.js';
import { defineEvent } from '../define-event.js';
import { defineRpc } from '../define-rpc.js';
import { axonSchema } from './neuron-events.js';
import {
  blockNumberSchema,
  hashHexSchema,
  netuidSchema,
  ss58AddressSchema,
  u16Schema,
  uidSchema,
} from './primitives.js';

/** One neuron of a subnet's metagraph, as the runtime reported it at a block. */
export const neuronSchema = z.object({
  uid: uidSchema,
  hotkey: ss58AddressSchema,
  coldkey: ss58AddressSchema,
  /** Stake on the hotkey on this subnet (sum over its stakers), in the subnet's smallest unit. */
  stake: raoSchema,
  /** Null until the neuron serves an axon. */
  axon: axonSchema.nullable(),
  validatorPermit: z.boolean(),
  /** u16 fraction (65535 = 1). */
  incentive: u16Schema,
  /** u16 fraction (65535 = 1). */
  dividends: u16Schema,
  /** Emission per tempo, in rao. */
  emission: raoSchema,
  /** Block of the neuron's last weights (or of its registration). */
  lastUpdate: blockNumberSchema,
  active: z.boolean(),
  registrationBlock: blockNumberSchema,
});

/** A subnet's metagraph as of a block. */
export const metagraphSchema = z.object({
  netuid: netuidSchema,
  blockNumber: blockNumberSchema,
  blockHash: hashHexSchema,
  neurons: z.array(neuronSchema),
});

/**
 * The indexer read a subnet's whole metagraph at a block: at each tempo boundary, after every
 * neuron or axon event on the subnet, and when it starts watching the subnet.
 */
export const MetagraphSynced = defineEvent({
  type: 'chain.MetagraphSynced',
  version: 1,
  data: metagraphSchema,
});

/** The last synced metagraph of a watched subnet, from the indexer's projection (no chain round trip). */
export const GetMetagraph = defineRpc({
  subject: 'rpc.chain.getMetagraph',
  request: z.object({ netuid: netuidSchema }),
  response: metagraphSchema,
  errors: ['NOT_FOUND'],
});

/** One neuron of a watched subnet by hotkey, from the projection. */
export const GetNeuron = defineRpc({
  subject: 'rpc.chain.getNeuron',
  request: z.object({ netuid: netuidSchema, hotkey: ss58AddressSchema }),
  response: z.object({ netuid: netuidSchema, blockNumber: blockNumberSchema, neuron: neuronSchema }),
  errors: ['NOT_FOUND'],
});
