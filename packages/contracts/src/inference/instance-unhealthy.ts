import { z } from 'zod';
import { ss58AddressSchema } from '../chain/primitives.js';
import { defineEvent } from '../define-event.js';
import { instanceIdSchema, schedulerDeploymentIdSchema } from '../scheduler/primitives.js';
import { proxyReplicaSchema } from './primitives.js';

/**
 * A proxy replica's circuit breaker for an instance opened: it failed (errors, timeouts, refused
 * connections) too many times in a row and gets no traffic from that replica for now. The
 * scheduler may replace it. Stream: `instanceHealthStreamId(reportId)`, one report per opening.
 */
export const InstanceUnhealthy = defineEvent({
  type: 'inference.InstanceUnhealthy',
  version: 1,
  data: z.object({
    reportId: z.uuid(),
    instanceId: instanceIdSchema,
    deploymentId: schedulerDeploymentIdSchema,
    minerHotkey: ss58AddressSchema,
    source: proxyReplicaSchema,
    /** Failures in a row that opened the breaker. */
    consecutiveFailures: z.int().positive(),
    /** The last failure, e.g. `connect ECONNREFUSED`, `status 500`, `timeout after 30000 ms`. */
    lastFailure: z.string().max(2000),
    /** When the replica will let one trial request through again. */
    retryAt: z.iso.datetime(),
    at: z.iso.datetime(),
  }),
});
