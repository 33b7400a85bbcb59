import { z } from 'zod';
import { defineEvent } from '../define-event.js';
import { accountIdSchema, apiKeyIdSchema, grantIdSchema } from '../billing/primitives.js';
import { requestIdSchema } from './primitives.js';

/**
 * The inference proxy finished a request (in a batch's stream, `inference.requests.<batchId>`).
 * Billing charges it once per `requestId` through its grant; streamed requests report the tokens
 * actually streamed.
 */
export const RequestCompleted = defineEvent({
  type: 'inference.RequestCompleted',
  version: 1,
  data: z.object({
    requestId: requestIdSchema,
    accountId: accountIdSchema,
    keyId: apiKeyIdSchema,
    model: z.string().min(1).max(200),
    promptTokens: z.int().nonnegative(),
    completionTokens: z.int().nonnegative(),
    streamed: z.boolean(),
    /** The grant the proxy spent from; null when it had none (billing then charges the balance, capped). */
    grantId: grantIdSchema.nullable(),
    minerHotkey: z.string().min(1).nullable(),
    instanceId: z.string().min(1).nullable(),
    latency: z.object({
      /** Time to first token; null when nothing was produced. */
      firstTokenMs: z.number().nonnegative().nullable(),
      totalMs: z.number().nonnegative(),
    }),
    status: z.enum(['succeeded', 'failed', 'cancelled']),
  }),
});
