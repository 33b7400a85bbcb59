import { z } from 'zod';
import { ss58AddressSchema } from '../chain/primitives.js';
import { defineEvent } from '../define-event.js';
import { instanceIdSchema, modelNameSchema, schedulerDeploymentIdSchema } from '../scheduler/primitives.js';
import { proxyReplicaSchema } from './primitives.js';

/** Why a probe scored what it scored (also when `ok`: `null` then). */
export const probeFailureSchema = z.enum([
  /** The instance refused or failed the request (an error status, a broken connection). */
  'request-failed',
  /** No answer within the probe's deadline. */
  'timeout',
  /** The stream was not the SSE of a chat completion (unparseable chunks, no `[DONE]`). */
  'malformed-stream',
  /** More tokens than allowed fell outside the reference model's top-k: another model, or garbage. */
  'quality',
  /** Same seed at temperature 0 gave different text than another replica of the same deployment. */
  'inconsistent',
]);
export type ProbeFailure = z.infer<typeof probeFailureSchema>;

/**
 * A synthetic request the proxy sent to a ready instance, and what it measured (stream
 * `probeStreamId(probeId)`). The scorer pays miners from these: `quality` in [0, 1] is the share
 * of the miner's tokens the reference model ranks in its top-k at their position, forced to 0 when
 * more than the allowed number miss (Nineteen's rule); speed is TTFT and tokens per second.
 */
export const ProbeCompleted = defineEvent({
  type: 'inference.ProbeCompleted',
  version: 1,
  data: z.object({
    probeId: z.uuid(),
    instanceId: instanceIdSchema,
    deploymentId: schedulerDeploymentIdSchema,
    minerHotkey: ss58AddressSchema,
    model: modelNameSchema,
    /** The proxy replica that probed. */
    source: proxyReplicaSchema,
    /** The instance answered, with good quality and (where checked) consistent output. */
    ok: z.boolean(),
    quality: z.number().min(0).max(1),
    /** Time to the first streamed token; null when none came. */
    ttftMs: z.number().nonnegative().nullable(),
    /** Completion tokens per second after the first; null when fewer than two tokens came. */
    tokensPerSecond: z.number().nonnegative().nullable(),
    completionTokens: z.int().nonnegative(),
    /** Tokens the reference ranked outside its top-k; null when no reference check ran. */
    rankMisses: z.int().nonnegative().nullable(),
    /** How the reference judged: a GGUF copy of the model (token probabilities), or none configured. */
    reference: z.enum(['gguf', 'none']),
    /** Cross-replica check (same seed, temperature 0): null when no other replica was compared. */
    consistent: z.boolean().nullable(),
    failure: probeFailureSchema.nullable(),
    /** Human-readable detail of a failure (status, first bytes); null when ok. */
    reason: z.string().max(2000).nullable(),
    at: z.iso.datetime(),
  }),
});
