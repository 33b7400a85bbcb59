import { z } from 'zod';
import { eventEnvelopeSchema, eventTypeSchema, type Event } from './envelope.js';
import { parseOrThrow } from './validation.js';

/** An event the caller wants appended: its contract-checked type, version, data and optional fixed id. */
export interface PendingEvent<Type extends string = string, Data = unknown> {
  readonly type: Type;
  readonly version: number;
  readonly data: Data;
  /** Set only when the id must be derived (e.g. from a chain position); otherwise the store mints a UUIDv7. */
  readonly id?: string;
}

/**
 * The contract whose `create` made each pending event. Its data was parsed there, so
 * `EventRegistry.validatePending` need not parse it again when the event is appended.
 */
const creators = new WeakMap<PendingEvent, EventContract>();

/** The contract whose `create` made `event`, if one did. */
export function creatorOf(event: PendingEvent): EventContract | undefined {
  return creators.get(event);
}

/**
 * One declaration per event type. It yields the TypeScript type (via {@link EventOf}) and the
 * runtime validators, so the two can never drift apart.
 */
export interface EventContract<Type extends string = string, DataSchema extends z.ZodType = z.ZodType> {
  readonly kind: 'event';
  readonly type: Type;
  readonly version: number;
  readonly data: DataSchema;
  /** The full envelope schema with `type`, `version` and `data` pinned to this contract. */
  readonly envelope: z.ZodType<Event<Type, z.output<DataSchema>>>;
  /** Validates data and returns a pending event; throws `ValidationError`. */
  create(data: z.input<DataSchema>, options?: { id?: string }): PendingEvent<Type, z.output<DataSchema>>;
  /** Validates a whole envelope; throws `ValidationError`. */
  parse(value: unknown): Event<Type, z.output<DataSchema>>;
  /** Narrows an already-decoded event to this contract. */
  is(event: { type: string; version: number }): event is Event<Type, z.output<DataSchema>>;
}

/** The typed event a contract describes. */
export type EventOf<C> =
  C extends EventContract<infer Type, infer DataSchema> ? Event<Type, z.output<DataSchema>> : never;

/** The data type of a contract. */
export type EventDataOf<C> = C extends EventContract<string, infer DataSchema> ? z.output<DataSchema> : never;

/**
 * Declares an event type.
 *
 * ```ts
 * export const AccountOpened = defineEvent({
 *   type: 'billing.AccountOpened',
 *   version: 1,
 *   data: z.object({ accountId: z.string(), name: z.string() }),
 * });
 * type AccountOpened = EventOf<typeof AccountOpened>;
 * ```
 */
export function defineEvent<const Type extends string, DataSchema extends z.ZodType>(declaration: {
  type: Type;
  version: number;
  data: DataSchema;
  description?: string;
}): EventContract<Type, DataSchema> {
  parseOrThrow(eventTypeSchema, declaration.type, `event type ${declaration.type}`);
  if (!Number.isInteger(declaration.version) || declaration.version < 1) {
    throw new RangeError(`event ${declaration.type}: version must be a positive integer`);
  }
  const label = `${declaration.type} v${declaration.version}`;
  const envelope = eventEnvelopeSchema.extend({
    type: z.literal(declaration.type),
    version: z.literal(declaration.version),
    data: declaration.data,
  });
  const described = declaration.description ? envelope.describe(declaration.description) : envelope;
  const contract: EventContract<Type, DataSchema> = {
    kind: 'event',
    type: declaration.type,
    version: declaration.version,
    data: declaration.data,
    envelope: described as unknown as z.ZodType<Event<Type, z.output<DataSchema>>>,
    create(data, options) {
      const parsed = parseOrThrow(declaration.data, data, `data of ${label}`);
      const event: PendingEvent<Type, z.output<DataSchema>> = options?.id === undefined
        ? { type: declaration.type, version: declaration.version, data: parsed }
        : { type: declaration.type, version: declaration.version, data: parsed, id: options.id };
      creators.set(event, contract);
      return event;
    },
    parse(value) {
      return parseOrThrow(described, value, `event ${label}`) as Event<Type, z.output<DataSchema>>;
    },
    is(event): event is Event<Type, z.output<DataSchema>> {
      return event.type === declaration.type && event.version === declaration.version;
    },
  };
  return contract;
}
