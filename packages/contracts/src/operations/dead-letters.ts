import { z } from 'zod';
import { defineRpc, type RpcContract } from '../define-rpc.js';
import { ErrorCode } from '../errors.js';
import { type ContextName } from '../streams.js';

/** A consumer's name: kebab-case `<service>-<what>`, as the event store requires. */
export const consumerNameSchema = z
  .string()
  .max(100)
  .regex(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/, 'must be a kebab-case consumer name');

const deadLetterIdSchema = z.string().regex(/^[1-9][0-9]{0,18}$/, 'must be a dead letter id');

/** One event a consumer parked because it can never apply as it is. */
export const deadLetterSchema = z.object({
  id: deadLetterIdSchema,
  consumer: consumerNameSchema,
  /** JetStream stream sequence of the message holding the event. */
  sequence: z.int().nonnegative(),
  /** Position of the event inside its commit. */
  eventIndex: z.int().nonnegative(),
  subject: z.string(),
  eventId: z.string().nullable(),
  eventType: z.string().nullable(),
  errorCode: z.string(),
  reason: z.string(),
  attempts: z.int().positive(),
  parkedAt: z.iso.datetime(),
});

/** The operator's view of a service's parked events: list them, and re-drive them after a fix. */
export interface DeadLetterContracts<Context extends ContextName> {
  readonly list: RpcContract<
    `rpc.${Context}.listDeadLetters`,
    z.ZodObject<{ consumer: z.ZodOptional<typeof consumerNameSchema> }>,
    z.ZodObject<{ deadLetters: z.ZodArray<typeof deadLetterSchema> }>,
    typeof ErrorCode.NotFound
  >;
  readonly replay: RpcContract<
    `rpc.${Context}.replayDeadLetters`,
    z.ZodObject<{
      consumer: typeof consumerNameSchema;
      ids: z.ZodOptional<z.ZodArray<typeof deadLetterIdSchema>>;
    }>,
    z.ZodObject<{
      replayed: z.ZodArray<z.ZodString>;
      failed: z.ZodArray<z.ZodObject<{ id: z.ZodString; errorCode: z.ZodString; reason: z.ZodString }>>;
    }>,
    typeof ErrorCode.NotFound
  >;
}

/**
 * The dead-letter operations of the service that owns `context`'s RPC subjects
 * (`rpc.<context>.listDeadLetters`, `rpc.<context>.replayDeadLetters`); operator-only.
 */
export function deadLetterContracts<const Context extends ContextName>(
  context: Context,
): DeadLetterContracts<Context> {
  return {
    list: defineRpc({
      subject: `rpc.${context}.listDeadLetters`,
      request: z.object({ consumer: consumerNameSchema.optional() }),
      response: z.object({ deadLetters: z.array(deadLetterSchema) }),
      errors: [ErrorCode.NotFound],
    }),
    replay: defineRpc({
      subject: `rpc.${context}.replayDeadLetters`,
      request: z.object({
        consumer: consumerNameSchema,
        ids: z.array(deadLetterIdSchema).max(1_000).optional(),
      }),
      response: z.object({
        replayed: z.array(z.string()),
        failed: z.array(z.object({ id: z.string(), errorCode: z.string(), reason: z.string() })),
      }),
      errors: [ErrorCode.NotFound],
    }),
  };
}
