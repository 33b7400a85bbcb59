import { z } from 'zod';
import { defineEvent } from '../define-event.js';
import { netuidSchema, ss58AddressSchema, u64StringSchema, uidSchema } from '../chain/primitives.js';

/**
 * One target of a weights proposal: a uid, a hotkey, or both. With both, the weight is meant for
 * that hotkey at that uid: if another hotkey holds the uid by submission time (the scored one
 * was deregistered), the entry is dropped rather than credited to the newcomer.
 */
export const proposedWeightSchema = z
  .object({
    uid: uidSchema.optional(),
    hotkey: ss58AddressSchema.optional(),
    /** Any finite number; the chain indexer scales the set so the largest becomes 65535. */
    weight: z.number(),
  })
  .refine((entry) => entry.uid !== undefined || entry.hotkey !== undefined, {
    message: 'needs a uid or a hotkey',
  });

/**
 * The scorer's weights for a subnet. The chain indexer submits each proposal id at most once
 * and answers with `chain.WeightsSubmitted` or `chain.WeightsSubmissionFailed`.
 */
export const WeightsProposed = defineEvent({
  type: 'scoring.WeightsProposed',
  version: 1,
  data: z.object({
    proposalId: z.uuid(),
    netuid: netuidSchema,
    weights: z.array(proposedWeightSchema),
    /** The subnet's expected weights version key (u64). */
    versionKey: u64StringSchema,
  }),
});
