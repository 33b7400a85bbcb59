import { z } from 'zod';
import { ss58AddressSchema } from '../chain/primitives.js';
import { defineEvent } from '../define-event.js';
import { engineNameSchema, sha256HexSchema } from '../miner/control-api.js';
import {
  gpuTypeSchema,
  instanceIdSchema,
  modelNameSchema,
  schedulerDeploymentIdSchema,
} from './primitives.js';

/*
 * One aggregate per instance (`instanceStreamId(instanceId)`):
 *
 *   InstancePlaced → InstanceLaunching → InstanceReady → InstanceDraining → InstanceStopped
 *         └──────────────┴──────────────────┴── InstanceFailed | InstanceLost (then replaced)
 *
 * Every event carries the GPUs it holds and `at`, the moment the scheduler established the
 * transition (ISO-8601, millisecond precision). An instance is billable, and the scorer pays its
 * miner, from `InstanceReady.at` to the `at` of the next event of that instance.
 */
const instanceFacts = {
  instanceId: instanceIdSchema,
  deploymentId: schedulerDeploymentIdSchema,
  minerHotkey: ss58AddressSchema,
  /** Normalised GPU type (`normalizeGpuType`), as billing prices it. */
  gpuType: gpuTypeSchema,
  gpuCount: z.int().positive(),
  /** When the transition happened, by the scheduler's clock. */
  at: z.iso.datetime(),
};

/** The scheduler chose a miner and GPUs for a new replica; the launch request follows. */
export const InstancePlaced = defineEvent({
  type: 'scheduler.InstancePlaced',
  version: 1,
  data: z.object({
    ...instanceFacts,
    /** The deployment generation the replica runs. */
    generation: z.int().positive(),
    model: modelNameSchema,
    engine: engineNameSchema,
    /** GPU indexes on the miner (as `/capacity` lists them). */
    gpus: z.array(z.int().nonnegative()).min(1),
    concurrency: z.int().positive(),
    /** The failed or lost instance this one replaces; null for a replica added by scaling. */
    replacesInstanceId: instanceIdSchema.nullable(),
  }),
});

/** The miner accepted the signed launch and is starting the engine. */
export const InstanceLaunching = defineEvent({
  type: 'scheduler.InstanceLaunching',
  version: 1,
  data: z.object(instanceFacts),
});

/**
 * The miner reports the instance ready and the model it serves has the deployment's sha256:
 * route to it. What the inference proxy needs is here; the bearer token for `endpoint` is
 * `instanceToken(INSTANCE_TOKEN_SECRET, instanceId)` and never travels in an event.
 */
export const InstanceReady = defineEvent({
  type: 'scheduler.InstanceReady',
  version: 1,
  data: z.object({
    ...instanceFacts,
    generation: z.int().positive(),
    /** The name clients send as `model`. */
    model: modelNameSchema,
    /**
     * The instance's OpenAI-compatible base URL as the platform reaches it (axon address after
     * the scheduler's address map), e.g. `http://10.0.0.7:8091/instances/<id>/v1`.
     */
    endpoint: z.url(),
    /** Requests it serves at once. */
    concurrency: z.int().positive(),
    /** sha256 of the model file the miner serves (equal to the deployment's). */
    modelSha256: sha256HexSchema,
  }),
});

/** Why an instance is drained (and then stopped). */
export const drainReasonSchema = z.enum([
  /** The autoscaler lowered the target. */
  'scale-down',
  /** A newer generation of the deployment is ready. */
  'superseded',
  'deployment-deleted',
]);
export type DrainReason = z.infer<typeof drainReasonSchema>;

/** Stop routing new requests to it; in-flight ones finish; the stop request follows. */
export const InstanceDraining = defineEvent({
  type: 'scheduler.InstanceDraining',
  version: 1,
  data: z.object({ ...instanceFacts, reason: drainReasonSchema }),
});

/** The miner stopped the instance and freed its GPUs. */
export const InstanceStopped = defineEvent({
  type: 'scheduler.InstanceStopped',
  version: 1,
  data: z.object({ ...instanceFacts, reason: drainReasonSchema }),
});

export const failureCauseSchema = z.enum([
  /** The miner refused the launch (capacity, engine): the replacement goes elsewhere. */
  'launch-refused',
  /** The launch request kept failing (network, unexpected answers). */
  'launch-error',
  /** The miner reports the engine failed (or the instance stopped on its own). */
  'engine-failed',
  /** The served model's sha256 is not the deployment's. */
  'model-mismatch',
  /** Not ready within the start-up timeout. */
  'startup-timeout',
  /** Too many consecutive failed health checks of its data plane. */
  'health-checks',
]);
export type FailureCause = z.infer<typeof failureCauseSchema>;

/** The instance failed; a replacement is placed. */
export const InstanceFailed = defineEvent({
  type: 'scheduler.InstanceFailed',
  version: 1,
  data: z.object({ ...instanceFacts, cause: failureCauseSchema, reason: z.string().max(2000) }),
});

export const lossCauseSchema = z.enum([
  /** The miner did not answer several polls in a row. */
  'unreachable',
  /** The miner's hotkey left the subnet. */
  'deregistered',
  /** The miner answers but no longer knows the instance (it restarted). */
  'missing-on-miner',
]);
export type LossCause = z.infer<typeof lossCauseSchema>;

/** The instance's miner is gone or forgot it; a replacement is placed. */
export const InstanceLost = defineEvent({
  type: 'scheduler.InstanceLost',
  version: 1,
  data: z.object({
    ...instanceFacts,
    cause: lossCauseSchema,
    /** The last time a poll saw the miner answer; null if it never did. */
    lastSeenAt: z.iso.datetime().nullable(),
  }),
});
