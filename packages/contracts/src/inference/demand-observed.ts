import { z } from 'zod';
import { defineEvent } from '../define-event.js';
import { schedulerDeploymentIdSchema } from '../scheduler/primitives.js';
import { streamIdOf } from '../streams.js';
import { proxyReplicaSchema } from './primitives.js';

/** A proxy replica's name in demand reports (the name every report of the proxy uses). */
export const demandSourceSchema = proxyReplicaSchema;

/**
 * What one inference-proxy replica saw of one deployment during one window: the scheduler's
 * autoscaler sums the latest window of every replica. A proxy reports each deployment it served
 * periodically, and at once (a short window with `queued` ≥ 1) when a request arrives for a
 * deployment without a ready instance — that is what scales a deployment up from zero.
 *
 * Stream: `demandStreamId(deploymentId, source)`, one aggregate per (deployment, replica), so
 * replicas never contend on one subject.
 */
export const DemandObserved = defineEvent({
  type: 'inference.DemandObserved',
  version: 1,
  data: z.object({
    deploymentId: schedulerDeploymentIdSchema,
    /** The reporting proxy replica. */
    source: demandSourceSchema,
    windowStart: z.iso.datetime(),
    windowMs: z.int().min(1).max(3_600_000),
    /** Requests being served upstream at the end of the window. */
    inFlight: z.int().nonnegative(),
    /** Requests waiting for capacity (no free instance slot, or no ready instance) at the end of the window. */
    queued: z.int().nonnegative(),
    /** Requests that arrived during the window. */
    requests: z.int().nonnegative(),
    /** Requests turned away during the window because no capacity came in time (503). */
    rejectedForCapacity: z.int().nonnegative(),
  }),
});

/** The aggregate of one proxy replica's demand reports for one deployment. */
export function demandStreamId(deploymentId: string, source: string): string {
  return streamIdOf('inference', 'demand', `${deploymentId}:${source}`);
}
