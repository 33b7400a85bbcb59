import { z } from 'zod';
import { streamIdOf } from '../streams.js';

/** The proxy's own error codes, besides the generic ones in `ErrorCode`. */
export const InferenceErrorCode = {
  /** No deployment serves the `model` asked for (or the caller may not see it). */
  ModelNotFound: 'inference.MODEL_NOT_FOUND',
  /** No instance could take the request in time (cold model, every slot busy, queue full). */
  NoCapacity: 'inference.NO_CAPACITY',
  /** Every instance tried failed before answering. */
  UpstreamFailed: 'inference.UPSTREAM_FAILED',
  /** The request took longer than the proxy allows. */
  RequestTimeout: 'inference.REQUEST_TIMEOUT',
  /** The request body is larger than the proxy accepts. */
  BodyTooLarge: 'inference.BODY_TOO_LARGE',
  /** No route for this method and path. */
  RouteNotFound: 'inference.ROUTE_NOT_FOUND',
} as const;

/**
 * A request id: what `x-request-id` carries and what billing charges once. Letters, digits, '_',
 * ':' and '-'.
 */
export const requestIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_:-]{1,200}$/, "must be 1–200 letters, digits, '_', ':' or '-'");

/** A proxy replica's name in events it reports (demand, probes, health): letters, digits, '_' and '-'. */
export const proxyReplicaSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,100}$/, "must be 1–100 letters, digits, '_' or '-'");

/**
 * The aggregate of one batch of metered requests, `inference.requests.<batchId>`: a proxy
 * replica appends the requests that completed within a few milliseconds as one commit, once
 * ever (a retried append of the batch is refused as already there). The batch id is fresh per
 * batch; billing charges each request id inside it once.
 */
export function requestBatchStreamId(batchId: string): string {
  return streamIdOf('inference', 'requests', batchId);
}

/** The aggregate of one probe: `inference.probe.<probeId>` (one event each, so replicas never contend). */
export function probeStreamId(probeId: string): string {
  return streamIdOf('inference', 'probe', probeId);
}

/** The aggregate of one health report: `inference.instance-health.<reportId>`. */
export function instanceHealthStreamId(reportId: string): string {
  return streamIdOf('inference', 'instance-health', reportId);
}
