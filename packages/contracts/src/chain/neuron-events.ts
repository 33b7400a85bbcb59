import { z } from 'zod';
import { raoSchema } from '../amounts.js';
import { defineEvent } from '../define-event.js';
import {
  chainPositionShape,
  netuidSchema,
  ss58AddressSchema,
  u64StringSchema,
  uidSchema,
} from './primitives.js';

/** A hotkey took a fresh uid on a subnet (`SubtensorModule.NeuronRegistered` on a uid nobody held). */
export const NeuronRegistered = defineEvent({
  type: 'chain.NeuronRegistered',
  version: 1,
  data: z.object({
    netuid: netuidSchema,
    uid: uidSchema,
    hotkey: ss58AddressSchema,
    /** The hotkey's owner (`Owner` storage at the block). */
    coldkey: ss58AddressSchema,
    ...chainPositionShape,
  }),
});

/**
 * A hotkey took over a uid another hotkey held (the subnet was full and the runtime pruned the
 * previous holder). Emitted instead of `chain.NeuronRegistered` for that registration.
 */
export const NeuronReplaced = defineEvent({
  type: 'chain.NeuronReplaced',
  version: 1,
  data: z.object({
    netuid: netuidSchema,
    uid: uidSchema,
    hotkey: ss58AddressSchema,
    coldkey: ss58AddressSchema,
    /** The hotkey that held the uid in the parent block. */
    previousHotkey: ss58AddressSchema,
    ...chainPositionShape,
  }),
});

/** An axon endpoint, as the runtime stores it (`Axons`), with the ip rendered as text. */
export const axonSchema = z.object({
  /** Dotted quad for IPv4, RFC 5952 text for IPv6. */
  ip: z.string().min(1),
  ipType: z.union([z.literal(4), z.literal(6)]),
  port: z.int().min(0).max(65_535),
  protocol: z.int().min(0).max(255),
  version: z.int().nonnegative(),
});

/** A neuron announced (or changed) its axon (`SubtensorModule.AxonServed`). */
export const AxonServed = defineEvent({
  type: 'chain.AxonServed',
  version: 1,
  data: z.object({
    netuid: netuidSchema,
    hotkey: ss58AddressSchema,
    ...axonSchema.shape,
    ...chainPositionShape,
  }),
});

const stakeChangeData = z.object({
  coldkey: ss58AddressSchema,
  hotkey: ss58AddressSchema,
  netuid: netuidSchema,
  /** TAO moved, in rao. */
  amount: raoSchema,
  /** Subnet stake (alpha) moved, in its smallest unit; 0 where the runtime reports none. */
  alpha: u64StringSchema,
  ...chainPositionShape,
});

/** A coldkey staked to a hotkey (`SubtensorModule.StakeAdded`). */
export const StakeAdded = defineEvent({ type: 'chain.StakeAdded', version: 1, data: stakeChangeData });

/** A coldkey unstaked from a hotkey (`SubtensorModule.StakeRemoved`). */
export const StakeRemoved = defineEvent({ type: 'chain.StakeRemoved', version: 1, data: stakeChangeData });

/** A neuron's weights were stored (`SubtensorModule.WeightsSet`), whoever sent them. */
export const WeightsSet = defineEvent({
  type: 'chain.WeightsSet',
  version: 1,
  data: z.object({
    netuid: netuidSchema,
    uid: uidSchema,
    /** The hotkey at that uid in the block. */
    hotkey: ss58AddressSchema,
    ...chainPositionShape,
  }),
});

/** A subnet was registered (`SubtensorModule.NetworkAdded`). */
export const SubnetAdded = defineEvent({
  type: 'chain.SubnetAdded',
  version: 1,
  data: z.object({ netuid: netuidSchema, ...chainPositionShape }),
});

/** A subnet was dissolved (`SubtensorModule.NetworkRemoved`). */
export const SubnetRemoved = defineEvent({
  type: 'chain.SubnetRemoved',
  version: 1,
  data: z.object({ netuid: netuidSchema, ...chainPositionShape }),
});
