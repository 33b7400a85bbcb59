import { z } from 'zod';
import { defineEvent } from '../define-event.js';
import {
  blockNumberSchema,
  hashHexSchema,
  netuidSchema,
  ss58AddressSchema,
  u16Schema,
  u64StringSchema,
  uidSchema,
} from './primitives.js';

/** The validator's weights for a `scoring.WeightsProposed` landed on chain. */
export const WeightsSubmitted = defineEvent({
  type: 'chain.WeightsSubmitted',
  version: 1,
  data: z.object({
    proposalId: z.uuid(),
    netuid: netuidSchema,
    /** The validator hotkey that signed. */
    hotkey: ss58AddressSchema,
    /** `setWeights`, or `commitWeights` when commit-reveal is on for the subnet. */
    method: z.enum(['setWeights', 'commitWeights']),
    blockNumber: blockNumberSchema,
    blockHash: hashHexSchema,
    extrinsicHash: hashHexSchema,
    uids: z.array(uidSchema),
    /** u16-normalised weights (max 65535), aligned with `uids`. */
    weights: z.array(u16Schema),
    versionKey: u64StringSchema,
  }),
});

/**
 * A proposal was not submitted, or the chain refused it. `reason` is the decoded module error
 * name (`SettingWeightsTooFast`) or a validation reason (`UnknownUid`, `NegativeWeight`,
 * `AllWeightsZero`, `WrongNetuid`, …); nothing reached the chain for validation reasons.
 */
export const WeightsSubmissionFailed = defineEvent({
  type: 'chain.WeightsSubmissionFailed',
  version: 1,
  data: z.object({
    proposalId: z.uuid(),
    netuid: netuidSchema,
    reason: z.string().min(1),
    message: z.string(),
    /** Whether an extrinsic was sent (false for proposals refused before submission). */
    submitted: z.boolean(),
  }),
});
