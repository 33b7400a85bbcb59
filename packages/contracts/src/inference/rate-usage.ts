import { z } from 'zod';
import { apiKeyIdSchema } from '../billing/primitives.js';
import { proxyReplicaSchema } from './primitives.js';

/**
 * Subject on which every inference-proxy replica broadcasts what it admitted for rate-limited
 * keys (core NATS, not a stream: the figures are only worth their last value). Each replica
 * enforces a key's RPM/TPM against its own count plus the last report of every other live
 * replica; a replica that stops reporting drops out after a few intervals.
 */
export const RATE_USAGE_SUBJECT = 'rpc.inference.rateUsage';

/** One replica's report. Sent every interval, also when empty: that tells the others it is alive. */
export const rateUsageReportSchema = z.object({
  source: proxyReplicaSchema,
  /** The reporter's clock, ms since the epoch. */
  sentAt: z.int().nonnegative(),
  /** Every key with a limit that this replica admitted requests for within the window. */
  keys: z
    .array(
      z.object({
        keyId: apiKeyIdSchema,
        /** Requests admitted within the last minute. */
        requests: z.int().nonnegative(),
        /** Tokens counted within the last minute (reserved estimates, corrected when requests end). */
        tokens: z.int().nonnegative(),
      }),
    )
    .max(100_000),
});
export type RateUsageReport = z.infer<typeof rateUsageReportSchema>;
