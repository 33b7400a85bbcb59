import {
  eventEnvelopeSchema,
  parseOrThrow,
  streamFor,
  streamIdSchema,
  systemClock,
  type Clock,
  type Event,
  type EventEnvelope,
  type EventMetadata,
  type EventRegistry,
  type PendingEvent,
} from '@tessera/contracts';
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { headers as createHeaders, nanos, type NatsConnection } from '@nats-io/transport-node';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { v7 as uuidv7 } from 'uuid';
import { EventDecoder, type Upcaster } from './event-decoder.js';
import { ConcurrencyConflictError } from './errors.js';
import { Namespace } from './namespace.js';
import { ensureStreams, type StreamSettings } from './streams/ensure-streams.js';
import { currentTraceparent, injectTraceContext, messagingTracer } from './tracing/nats-trace-context.js';

/**
 * Where an aggregate's stream stands. `sequence` is the JetStream sequence of its last event
 * (what `Nats-Expected-Last-Subject-Sequence` checks); `version` is how many events it holds
 * (the envelope's per-aggregate `sequence` of its last event). Both are 0 for a new aggregate.
 */
export interface StreamPosition {
  readonly sequence: number;
  readonly version: number;
}

/** The position of an aggregate with no events yet. */
export const NO_STREAM: StreamPosition = Object.freeze({ sequence: 0, version: 0 });

/** An aggregate's events, decoded and upcast, with the position to append after. */
export interface StreamState {
  readonly events: Event[];
  readonly position: StreamPosition;
}

/** Options of one append. */
export interface AppendOptions extends EventMetadata {
  /**
   * The position the caller's decision was based on (from {@link EventStore.readStream}).
   * The append fails with {@link ConcurrencyConflictError} if the stream moved. When omitted,
   * the store looks the position up and appends after whatever is there.
   */
  expected?: StreamPosition;
}

/** Result of an append: the stored envelopes and the aggregate's new position. */
export interface AppendResult {
  readonly events: EventEnvelope[];
  readonly position: StreamPosition;
  /** True when JetStream recognised every event id as already stored (a retried append). */
  readonly duplicate: boolean;
}

/** Construction options of an {@link EventStore}. */
export interface EventStoreOptions {
  connection: NatsConnection;
  registry: EventRegistry;
  /** Upcasters applied when reading old event versions. */
  upcasters?: readonly Upcaster[];
  /** Test isolation prefix; empty in production. */
  namespace?: Namespace | string;
  clock?: Clock;
  /** Actor recorded when an append names none, e.g. `service:billing`. */
  defaultActor?: string;
  /** JetStream publish timeout. Default 5 s. */
  publishTimeoutMs?: number;
}

/** Header carrying the event type, so consumers can skip events they do not handle without parsing. */
export const EVENT_TYPE_HEADER = 'Tessera-Event-Type';

const decoder = new TextDecoder();

/**
 * The event store: JetStream holds every event; one subject per aggregate gives per-aggregate
 * optimistic concurrency (`Nats-Expected-Last-Subject-Sequence`) and `Nats-Msg-Id` = event id
 * makes a retried append a no-op.
 */
export class EventStore {
  readonly namespace: Namespace;
  readonly decoder: EventDecoder;
  /** The JetStream client the store publishes with; consumers share it. */
  readonly jetstream: JetStreamClient;
  private jsmPromise: Promise<JetStreamManager> | undefined;
  private readonly clock: Clock;
  private readonly defaultActor: string;
  private readonly publishTimeoutMs: number;

  constructor(private readonly options: EventStoreOptions) {
    this.namespace =
      options.namespace instanceof Namespace ? options.namespace : new Namespace(options.namespace ?? '');
    this.decoder = new EventDecoder(options.registry, options.upcasters);
    this.jetstream = jetstream(options.connection);
    this.clock = options.clock ?? systemClock;
    this.defaultActor = options.defaultActor ?? 'system:tessera';
    this.publishTimeoutMs = options.publishTimeoutMs ?? 5_000;
  }

  /** The NATS connection the store publishes on. */
  get connection(): NatsConnection {
    return this.options.connection;
  }

  /** JetStream management API (created once, lazily). */
  manager(): Promise<JetStreamManager> {
    this.jsmPromise ??= jetstreamManager(this.options.connection);
    return this.jsmPromise;
  }

  /** Creates or reconciles the declared streams (see {@link ensureStreams}). */
  async ensureStreams(
    declarations?: Parameters<typeof ensureStreams>[2],
    settings?: StreamSettings,
  ): Promise<void> {
    await ensureStreams(await this.manager(), this.namespace, declarations, settings);
  }

  /**
   * Appends events to one aggregate. Each event is validated against its contract first: one
   * invalid event means a `ValidationError` and nothing written. Events are published in order,
   * each expecting the previous one's sequence, so a concurrent writer is detected between any
   * two of them.
   */
  async append(
    streamId: string,
    events: readonly PendingEvent[],
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    parseOrThrow(streamIdSchema, streamId, 'stream id');
    if (events.length === 0) throw new RangeError('append needs at least one event');
    for (const event of events) this.decoder.registry.validateData(event.type, event.version, event.data);

    const subject = this.namespace.subject(streamId);
    // The span's context is passed explicitly to the header and envelope instead of making it
    // active: the append awaits only NATS, and this keeps the hot path free of context switches.
    const span = messagingTracer.startSpan(`publish ${streamId.slice(0, streamId.lastIndexOf('.'))}`, {
      kind: SpanKind.PRODUCER,
      attributes: { 'messaging.system': 'nats', 'messaging.destination.name': subject },
    });
    const spanContext = trace.setSpan(context.active(), span);
    try {
      const start = options.expected ?? (await this.currentPosition(streamId));
      const occurredAt = this.clock.now().toISOString();
      const traceparent =
        options.traceparent !== undefined ? options.traceparent : currentTraceparent(spanContext);
      const envelopes: EventEnvelope[] = events.map((event, index) => {
        const id = event.id ?? uuidv7();
        return {
          id,
          type: event.type,
          version: event.version,
          streamId,
          sequence: start.version + index + 1,
          occurredAt,
          correlationId: options.correlationId ?? id,
          causationId: options.causationId ?? null,
          traceparent,
          actor: options.actor ?? this.defaultActor,
          data: event.data,
        };
      });
      let sequence = start.sequence;
      let duplicates = 0;
      for (const envelope of envelopes) {
        const headers = injectTraceContext(createHeaders(), spanContext);
        headers.set(EVENT_TYPE_HEADER, envelope.type);
        try {
          const ack = await this.jetstream.publish(subject, JSON.stringify(envelope), {
            msgID: envelope.id,
            expect: { lastSubjectSequence: sequence },
            headers,
            timeout: this.publishTimeoutMs,
          });
          if (ack.duplicate) duplicates += 1;
          sequence = ack.seq;
        } catch (err) {
          if (isWrongLastSequence(err)) throw new ConcurrencyConflictError(streamId, sequence, err);
          throw err;
        }
      }
      span.setAttribute('messaging.batch.message_count', envelopes.length);
      return {
        events: envelopes,
        position: { sequence, version: start.version + envelopes.length },
        duplicate: duplicates === envelopes.length,
      };
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw err;
    } finally {
      span.end();
    }
  }

  /**
   * Reads every event of one aggregate, upcast to current versions and validated, and the
   * position to append after. Uses a short-lived consumer filtered to the aggregate's subject.
   */
  async readStream(streamId: string): Promise<StreamState> {
    parseOrThrow(streamIdSchema, streamId, 'stream id');
    const jsm = await this.manager();
    const streamName = this.namespace.streamName(streamFor(streamId));
    const info = await jsm.consumers.add(streamName, {
      filter_subject: this.namespace.subject(streamId),
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.All,
      inactive_threshold: nanos(30_000),
      mem_storage: true,
      num_replicas: 1,
    });
    try {
      const expected = info.num_pending;
      const events: Event[] = [];
      let sequence = 0;
      if (expected > 0) {
        const consumer = await this.jetstream.consumers.get(streamName, info.name);
        while (events.length < expected) {
          const batch = await consumer.fetch({ max_messages: expected - events.length, expires: 5_000 });
          let received = 0;
          for await (const message of batch) {
            events.push(this.decoder.decode(message.json()));
            sequence = message.seq;
            received += 1;
          }
          if (received === 0)
            throw new Error(`stream ${streamId}: consumer delivered fewer events than announced`);
        }
      }
      return { events, position: { sequence, version: events.at(-1)?.sequence ?? 0 } };
    } finally {
      jsm.consumers.delete(streamName, info.name).catch(() => undefined);
    }
  }

  /** Where an aggregate stands, from its last stored event (one direct get, no consumer). */
  async currentPosition(streamId: string): Promise<StreamPosition> {
    const jsm = await this.manager();
    const streamName = this.namespace.streamName(streamFor(streamId));
    try {
      const last = await jsm.streams.getMessage(streamName, {
        last_by_subj: this.namespace.subject(streamId),
      });
      if (!last) return NO_STREAM;
      const envelope = parseOrThrow(
        eventEnvelopeSchema,
        JSON.parse(decoder.decode(last.data)),
        'stored event',
      );
      return { sequence: last.seq, version: envelope.sequence };
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound) return NO_STREAM;
      throw err;
    }
  }
}

function isWrongLastSequence(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamWrongLastSequence;
}
