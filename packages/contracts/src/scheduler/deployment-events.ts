import { z } from 'zod';
import { defineEvent } from '../define-event.js';
import { deploymentSpecFieldsSchema, modelNameSchema, schedulerDeploymentIdSchema } from './primitives.js';

/*
 * Deployment events live on one aggregate, `DEPLOYMENT_CATALOG_STREAM_ID`, so that names stay
 * unique without a second index. Each event names its deployment.
 */

/** A deployment was created; the scheduler keeps `targetReplicas` replicas of it. */
export const DeploymentCreated = defineEvent({
  type: 'scheduler.DeploymentCreated',
  version: 1,
  data: z.object({
    deploymentId: schedulerDeploymentIdSchema,
    spec: deploymentSpecFieldsSchema,
    /** Bumped by every change that needs new replicas (model, engine, GPUs, concurrency, name). */
    generation: z.int().positive(),
    targetReplicas: z.int().nonnegative(),
  }),
});

/**
 * A deployment's spec changed. When `generation` moved, replicas of the older generation are
 * replaced (new ones placed first, old ones drained once the new ones are ready).
 */
export const DeploymentUpdated = defineEvent({
  type: 'scheduler.DeploymentUpdated',
  version: 1,
  data: z.object({
    deploymentId: schedulerDeploymentIdSchema,
    spec: deploymentSpecFieldsSchema,
    generation: z.int().positive(),
    /** Top-level spec fields that changed, e.g. `["maxReplicas", "visibility"]`. */
    changed: z.array(z.string()).min(1),
  }),
});

/** Why the replica target moved. */
export const scaleReasonSchema = z.enum([
  /** Utilisation above the scale-up threshold, or requests refused for capacity. */
  'demand',
  /** A deployment at zero replicas saw its first demand. */
  'scale-from-zero',
  /** Utilisation below the scale-down threshold. */
  'low-utilisation',
  /** Idle for `scaleToZeroAfterSeconds`. */
  'idle',
  /** `minReplicas` / `maxReplicas` changed and the target was outside them. */
  'spec',
]);
export type ScaleReason = z.infer<typeof scaleReasonSchema>;

/** The autoscaler moved a deployment's replica target. */
export const DeploymentScaled = defineEvent({
  type: 'scheduler.DeploymentScaled',
  version: 1,
  data: z.object({
    deploymentId: schedulerDeploymentIdSchema,
    fromReplicas: z.int().nonnegative(),
    toReplicas: z.int().nonnegative(),
    reason: scaleReasonSchema,
  }),
});

/** A deployment was deleted: its replicas drain and stop, its name is free again. */
export const DeploymentDeleted = defineEvent({
  type: 'scheduler.DeploymentDeleted',
  version: 1,
  data: z.object({ deploymentId: schedulerDeploymentIdSchema, name: modelNameSchema }),
});
