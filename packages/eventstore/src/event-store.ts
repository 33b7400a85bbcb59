import {
  ErrorCode,
  TesseraError,
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
  type StreamDeclaration,
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
  type PubAck,
} from '@nats-io/jetstream';
import { headers as createHeaders, nanos, type NatsConnection } from '@nats-io/transport-node';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { v7 as uuidv7 } from 'uuid';
import { EventDecoder, type Upcaster } from './event-decoder.js';
import { EVENT_TYPES_HEADER, encodeCommit, envelopesIn } from './commit.js';
import { ConcurrencyConflictError } from './errors.js';
import { asUnavailable } from './failures.js';
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
  /** True when JetStream recognised the commit as already stored (a retried append). */
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
  /** How {@link EventStore.ensureStreams} creates streams (replicas, duplicate window). */
  streams?: StreamSettings;
  /** Fault-injection points for crash tests; never set in production. */
  faults?: {
    /** Called right before each JetStream publish of an append (a test SIGKILLs itself here). */
    beforePublish?: (streamId: string, eventsInMessage: number) => Promise<void> | void;
  };
}

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
    await ensureStreams(await this.manager(), this.namespace, declarations, settings ?? this.options.streams);
  }

  /**
   * Appends the events of one decision to one aggregate, atomically: they are validated first
   * (one invalid event means a `ValidationError` and nothing written), then stored as one
   * JetStream message (see {@link encodeCommit}) that expects the aggregate to be at
   * `options.expected` — a concurrent writer gets {@link ConcurrencyConflictError} and nothing of
   * this decision is stored. `Nats-Msg-Id` is the first event's id, so a retried append is a
   * no-op. A JetStream outage surfaces as `UNAVAILABLE`.
   */
  async append(
    streamId: string,
    events: readonly PendingEvent[],
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    parseOrThrow(streamIdSchema, streamId, 'stream id');
    if (events.length === 0) throw new RangeError('append needs at least one event');
    for (const event of events) this.decoder.registry.validatePending(event);

    const subject = this.namespace.subject(streamId);
    // The span's context is passed explicitly to the header and envelope instead of making it
    // active: the append awaits only NATS, and this keeps the hot path free of context switches.
    const span = messagingTracer.startSpan(`publish ${streamId.slice(0, streamId.lastIndexOf('.'))}`, {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'nats',
        'messaging.destination.name': subject,
        'messaging.batch.message_count': events.length,
      },
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
      const payload = encodeCommit(envelopes);
      const maxPayload = this.options.connection.info?.max_payload;
      if (maxPayload !== undefined && payload.length > maxPayload) {
        throw new RangeError(
          `a decision of ${envelopes.length} events on ${streamId} is ${payload.length} bytes, over the server's max_payload of ${maxPayload}`,
        );
      }
      const headers = injectTraceContext(createHeaders(), spanContext);
      headers.set(EVENT_TYPES_HEADER, [...new Set(envelopes.map((envelope) => envelope.type))].join(','));
      const first = envelopes[0] as EventEnvelope;
      await this.options.faults?.beforePublish?.(streamId, envelopes.length);
      const publish = async (msgID: string): Promise<PubAck> => {
        try {
          return await this.jetstream.publish(subject, payload, {
            msgID,
            expect: { lastSubjectSequence: start.sequence },
            headers,
            timeout: this.publishTimeoutMs,
          });
        } catch (err) {
          if (isWrongLastSequence(err)) throw new ConcurrencyConflictError(streamId, start.sequence, err);
          throw asUnavailable(err, `append to ${streamId}`);
        }
      };
      let ack = await publish(first.id);
      if (ack.duplicate && ack.seq === 0) {
        ack = await this.confirmDuplicate(streamId, start, first.id, () =>
          publish(`${first.id}.${start.sequence}`),
        );
      }
      return {
        events: envelopes,
        position: { sequence: ack.seq, version: start.version + envelopes.length },
        duplicate: ack.duplicate,
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
   * Reads an aggregate's events — all of them, or those stored after `options.after` (a position
   * from a snapshot) — upcast to current versions and validated, and the position to append
   * after. Uses a short-lived consumer filtered to the aggregate's subject.
   */
  async readStream(streamId: string, options: { after?: StreamPosition } = {}): Promise<StreamState> {
    parseOrThrow(streamIdSchema, streamId, 'stream id');
    let state = await this.readOnce(streamId, options.after ?? NO_STREAM);
    // On a cluster the short-lived consumer may sit on a replica that is still catching up and
    // serve a prefix. The stream's leader knows the aggregate's last commit: read on until the
    // read reaches it, so what a decision is based on is never older than the leader's view.
    for (let attempt = 0; ; attempt += 1) {
      const head = await this.currentPosition(streamId);
      if (head.sequence <= state.position.sequence) return state;
      if (attempt >= 50) {
        throw new TesseraError(
          ErrorCode.Unavailable,
          `read ${streamId}: the replica serving reads stays behind the stream leader (at ${state.position.sequence}, leader at ${head.sequence})`,
        );
      }
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100));
      const more = await this.readOnce(streamId, state.position);
      state = { events: [...state.events, ...more.events], position: more.position };
    }
  }

  private async readOnce(streamId: string, after: StreamPosition): Promise<StreamState> {
    const commits = await this.readCommits(streamId, after);
    const events = commits.flatMap((commit) => commit.events);
    return {
      events,
      position: {
        sequence: commits.at(-1)?.sequence ?? after.sequence,
        version: events.at(-1)?.sequence ?? after.version,
      },
    };
  }

  /** The commits stored after `after`, each with its stream sequence. */
  private async readCommits(
    streamId: string,
    after: StreamPosition,
  ): Promise<{ sequence: number; events: Event[] }[]> {
    const streamName = this.namespace.streamName(streamFor(streamId));
    try {
      const jsm = await this.manager();
      const info = await jsm.consumers.add(streamName, {
        filter_subject: this.namespace.subject(streamId),
        ack_policy: AckPolicy.None,
        ...(after.sequence > 0
          ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: after.sequence + 1 }
          : { deliver_policy: DeliverPolicy.All }),
        inactive_threshold: nanos(30_000),
        mem_storage: true,
        num_replicas: 1,
      });
      try {
        const expected = info.num_pending;
        const commits: { sequence: number; events: Event[] }[] = [];
        if (expected > 0) {
          const consumer = await this.jetstream.consumers.get(streamName, info.name);
          while (commits.length < expected) {
            const batch = await consumer.fetch({ max_messages: expected - commits.length, expires: 5_000 });
            let got = 0;
            for await (const message of batch) {
              commits.push({
                sequence: message.seq,
                events: envelopesIn(message.data).map((envelope) => this.decoder.decode(envelope)),
              });
              got += 1;
            }
            if (got === 0)
              throw new Error(`stream ${streamId}: consumer delivered fewer messages than announced`);
          }
        }
        return commits;
      } finally {
        jsm.consumers.delete(streamName, info.name).catch(() => undefined);
      }
    } catch (err) {
      throw asUnavailable(err, `read ${streamId}`);
    }
  }

  /**
   * JetStream clusters before nats-server 2.11 can answer a publish with "duplicate" and sequence
   * 0 for a message whose first attempt a leader election dropped unstored (nats-server PR
   * #6415): the id stays in the dedup window although nothing was written. So a duplicate
   * without a sequence is checked against the stream. Stored (an earlier attempt landed): its
   * position. Not stored: the commit is published once more under an id of its own — the
   * expected subject sequence still makes sure it lands at most once.
   */
  private async confirmDuplicate(
    streamId: string,
    after: StreamPosition,
    firstEventId: string,
    republish: () => Promise<PubAck>,
  ): Promise<PubAck> {
    for (let attempt = 0; attempt < 10; attempt += 1) {
      const commit = (await this.readCommits(streamId, after)).find((candidate) =>
        candidate.events.some((event) => event.id === firstEventId),
      );
      if (commit) return { stream: '', seq: commit.sequence, duplicate: true, domain: '' } as PubAck;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return republish();
  }

  /** Where an aggregate stands, from its last stored commit (one direct get, no consumer). */
  async currentPosition(streamId: string): Promise<StreamPosition> {
    const streamName = this.namespace.streamName(streamFor(streamId));
    try {
      const jsm = await this.manager();
      const last = await jsm.streams.getMessage(streamName, {
        last_by_subj: this.namespace.subject(streamId),
      });
      if (!last) return NO_STREAM;
      const envelopes = envelopesIn(last.data);
      const envelope = parseOrThrow(eventEnvelopeSchema, envelopes.at(-1), 'stored event');
      return { sequence: last.seq, version: envelope.sequence };
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound) return NO_STREAM;
      throw asUnavailable(err, `position of ${streamId}`);
    }
  }

  /**
   * The stream sequence of the last message stored under a logical subject filter (wildcards
   * allowed), or 0. What a consumer with that filter has to reach to be caught up.
   */
  async lastSequence(stream: StreamDeclaration, filterSubject?: string): Promise<number> {
    const streamName = this.namespace.streamName(stream);
    try {
      const jsm = await this.manager();
      if (filterSubject === undefined) return (await jsm.streams.info(streamName)).state.last_seq;
      const last = await jsm.streams.getMessage(streamName, {
        last_by_subj: this.namespace.subject(filterSubject),
      });
      return last?.seq ?? 0;
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound) return 0;
      throw asUnavailable(err, `last sequence of ${stream.name}`);
    }
  }
}

function isWrongLastSequence(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamWrongLastSequence;
}
