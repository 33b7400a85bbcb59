import { z } from 'zod';
import { streamIdSchema } from './streams.js';

/** `billing.UsageCharged`: the context, a dot, a past-tense PascalCase name. */
export const eventTypeSchema = z
  .string()
  .regex(/^[a-z]+\.[A-Z][A-Za-z0-9]*$/, 'must be <context>.<PastTenseName>');

/** Who caused an event: `<kind>:<id>`, e.g. `account:…`, `service:billing`, `operator:cli`. */
export const actorSchema = z.string().regex(/^[a-z][a-z-]*:\S+$/, 'must be <kind>:<id>');

/** W3C trace context header value. */
export const traceparentSchema = z
  .string()
  .regex(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/, 'must be a W3C traceparent');

/**
 * Every event on every stream travels in this envelope (ARCHITECTURE.md, "Messaging rules").
 * `data` is validated separately against the event's own contract.
 */
export const eventEnvelopeSchema = z.object({
  /** UUID (v7 when minted here; chain events use ids derived from their chain position). Also the `Nats-Msg-Id`. */
  id: z.uuid(),
  type: eventTypeSchema,
  /** Schema version of `data`; bumped on a breaking change, with an upcaster for old versions. */
  version: z.int().positive(),
  /** The aggregate's subject, `<context>.<aggregate>.<aggregateId>`. */
  streamId: streamIdSchema,
  /** Position within the aggregate, starting at 1. */
  sequence: z.int().positive(),
  /** ISO-8601 UTC time from the injected clock. */
  occurredAt: z.iso.datetime(),
  /** The id shared by everything one outside request caused. */
  correlationId: z.string().min(1),
  /** The id of the event or request that directly caused this one. */
  causationId: z.string().min(1).nullable(),
  traceparent: traceparentSchema.nullable(),
  actor: actorSchema,
  data: z.unknown(),
});

/** An envelope whose `data` has not been checked against its contract yet. */
export type EventEnvelope = z.infer<typeof eventEnvelopeSchema>;

/** An envelope with typed `data`, as produced by an event contract. */
export type Event<Type extends string = string, Data = unknown> = Omit<EventEnvelope, 'type' | 'data'> & {
  type: Type;
  data: Data;
};

/** Envelope metadata a caller may set when appending; the store fills in the rest. */
export interface EventMetadata {
  correlationId?: string;
  causationId?: string | null;
  actor?: string;
  traceparent?: string | null;
}
