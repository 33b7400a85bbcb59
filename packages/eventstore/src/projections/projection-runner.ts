import { ErrorCode, eventEnvelopeSchema, isTesseraError, type Event } from '@tessera/contracts';
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiError,
  JetStreamApiCodes,
  type ConsumerMessages,
  type JsMsg,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { context, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { type DataSource, type EntityManager } from 'typeorm';
import { EVENT_TYPE_HEADER, type EventStore } from '../event-store.js';
import { extractTraceContext, messagingTracer } from '../tracing/nats-trace-context.js';
import { DeadLetterEntity } from './dead-letter.entity.js';
import { ProjectionCheckpointEntity } from './projection-checkpoint.entity.js';
import { type Projection } from './projection.js';

/** Where a runner reports what it does; structurally compatible with most loggers. */
export interface RunnerLogger {
  info(message: string, context?: Record<string, unknown>): void;
  warn(message: string, context?: Record<string, unknown>): void;
  error(message: string, context?: Record<string, unknown>): void;
}

/** Options of a {@link ProjectionRunner}. */
export interface ProjectionRunnerOptions {
  store: EventStore;
  dataSource: DataSource;
  projection: Projection;
  /** Most events applied in one transaction. Default 500. */
  batchSize?: number;
  /**
   * How long to wait for more events before applying a batch that is not full. Trades a few
   * milliseconds of lag for far fewer transactions under load. Default 5 ms; 0 applies at once.
   */
  lingerMs?: number;
  /** A runner with work waiting and no commit for this long reports itself stalled. Default 30 s. */
  stallAfterMs?: number;
  logger?: RunnerLogger;
  /**
   * Called inside the transaction after the batch is applied and the checkpoint written, just
   * before commit. For fault-injection tests only (a crash here must lose nothing).
   */
  beforeCommit?: (lastSequence: number) => Promise<void> | void;
}

/** What readiness checks see. */
export interface ProjectionHealth {
  name: string;
  running: boolean;
  stalled: boolean;
  checkpoint: number;
  buffered: number;
  lastCommitAt: Date | undefined;
  lastError: string | undefined;
}

const silentLogger: RunnerLogger = {
  info: () => undefined,
  warn: (message, ctx) => console.warn(JSON.stringify({ level: 'warn', message, ...ctx })),
  error: (message, ctx) => console.error(JSON.stringify({ level: 'error', message, ...ctx })),
};

const textDecoder = new TextDecoder();

/**
 * Runs one projection: a durable pull consumer feeds batches; each batch's rows and the
 * checkpoint commit in one Postgres transaction, then the messages are acked. Redelivered
 * events at or below the checkpoint are skipped; an event that cannot be applied is parked in
 * the dead-letter table and the stream goes on.
 *
 * One runner per projection may be active at a time: events must apply in stream order.
 */
export class ProjectionRunner {
  private readonly batchSize: number;
  private readonly stallAfterMs: number;
  private readonly lingerMs: number;
  private checkpointTablePath: string | undefined;
  private readonly logger: RunnerLogger;
  private readonly handledTypes: ReadonlySet<string> | undefined;
  private messages: ConsumerMessages | undefined;
  private consumeLoop: Promise<void> | undefined;
  private drainLoop: Promise<void> | undefined;
  private buffer: JsMsg[] = [];
  private checkpoint = 0;
  private running = false;
  private lastCommitAt: Date | undefined;
  private lastProgressAt = Date.now();
  private lastError: string | undefined;
  private waiters: { sequence: number; resolve: () => void }[] = [];

  constructor(private readonly options: ProjectionRunnerOptions) {
    if (!/^[A-Za-z0-9_-]+$/.test(options.projection.name)) {
      throw new RangeError(
        `projection name "${options.projection.name}" may only hold letters, digits, '-' and '_'`,
      );
    }
    this.batchSize = options.batchSize ?? 500;
    this.stallAfterMs = options.stallAfterMs ?? 30_000;
    this.lingerMs = options.lingerMs ?? 5;
    this.logger = options.logger ?? silentLogger;
    this.handledTypes = options.projection.handles
      ? new Set(options.projection.handles.map((contract) => contract.type))
      : undefined;
  }

  get name(): string {
    return this.options.projection.name;
  }

  private get streamName(): string {
    return this.options.store.namespace.streamName(this.options.projection.stream);
  }

  private get consumerName(): string {
    return this.options.store.namespace.consumerName(`projection_${this.name}`);
  }

  /** Loads the checkpoint, makes sure the durable consumer exists and starts consuming. */
  async start(): Promise<void> {
    if (this.running) return;
    this.checkpoint = await this.loadCheckpoint(this.options.dataSource.manager);
    // The first subscription happens here so that start() fails loudly on a bad setup; later
    // ones (after NATS restarts or a lost consumer) happen in the background loop.
    const first = await this.subscribe();
    this.running = true;
    this.lastProgressAt = Date.now();
    this.consumeLoop = this.consumeUntilStopped(first);
    this.logger.info('projection started', { projection: this.name, checkpoint: this.checkpoint });
  }

  /**
   * Makes sure the durable consumer exists and starts pulling from it. Messages delivered to a
   * runner that died stay unacked until ack_wait runs out; the checkpoint in Postgres is the
   * truth, so such a consumer is recreated from the checkpoint instead of waiting.
   */
  private async subscribe(): Promise<ConsumerMessages> {
    const jsm = await this.options.store.manager();
    const filter = this.options.projection.filterSubject ?? this.options.projection.stream.subjects[0];
    const existing = await jsm.consumers.info(this.streamName, this.consumerName).catch((err: unknown) => {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound) return null;
      throw err;
    });
    const stale = existing !== null && existing.num_ack_pending > 0;
    if (stale) await jsm.consumers.delete(this.streamName, this.consumerName);
    if (!existing || stale) {
      await jsm.consumers.add(this.streamName, {
        durable_name: this.consumerName,
        ack_policy: AckPolicy.Explicit,
        ack_wait: nanos(60_000),
        max_ack_pending: 20_000,
        ...(filter ? { filter_subject: this.options.store.namespace.subject(filter) } : {}),
        ...(this.checkpoint > 0
          ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.checkpoint + 1 }
          : { deliver_policy: DeliverPolicy.All }),
      });
    }
    const consumer = await this.options.store.jetstream.consumers.get(this.streamName, this.consumerName);
    this.messages = await consumer.consume({ max_messages: Math.max(this.batchSize * 2, 256) });
    return this.messages;
  }

  /** Pulls until stopped; when the subscription breaks (NATS restarted, consumer lost) it subscribes again with backoff. */
  private async consumeUntilStopped(first: ConsumerMessages): Promise<void> {
    let messages: ConsumerMessages | undefined = first;
    let failures = 0;
    while (this.running) {
      try {
        messages ??= await this.subscribe();
        for await (const message of messages) {
          failures = 0;
          this.buffer.push(message);
          this.drainLoop ??= this.drain().finally(() => {
            this.drainLoop = undefined;
          });
        }
      } catch (err) {
        failures += 1;
        this.lastError = (err as Error).message;
        this.logger.warn('projection subscription broke; subscribing again', {
          projection: this.name,
          error: this.lastError,
          failures,
        });
      }
      messages = undefined;
      if (this.running)
        await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 100 * 2 ** failures)));
    }
  }

  /** Stops taking messages and waits for the batch in flight to commit. Unacked messages redeliver later. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await this.messages?.close().catch(() => undefined);
    await this.consumeLoop;
    await this.drainLoop;
    this.buffer = [];
  }

  /**
   * Rebuilds the read model from sequence 1: stops, deletes the projection's rows, checkpoint
   * and dead letters in one transaction, recreates the consumer and starts again.
   */
  async rebuild(): Promise<void> {
    await this.stop();
    await this.options.dataSource.transaction(async (manager) => {
      await this.options.projection.reset(manager);
      await manager.getRepository(ProjectionCheckpointEntity).delete({ projection: this.name });
      await manager.getRepository(DeadLetterEntity).delete({ projection: this.name });
    });
    const jsm = await this.options.store.manager();
    await jsm.consumers.delete(this.streamName, this.consumerName).catch((err: unknown) => {
      if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound)) throw err;
    });
    await this.start();
  }

  /** Resolves once the checkpoint reaches `sequence` (a JetStream stream sequence). */
  waitForSequence(sequence: number, timeoutMs = 10_000): Promise<void> {
    if (this.checkpoint >= sequence) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter.resolve !== done);
        reject(new Error(`projection ${this.name} did not reach sequence ${sequence} in ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push({ sequence, resolve: done });
    });
  }

  /** For readiness: stalled means work is waiting and nothing committed for `stallAfterMs`. */
  health(): ProjectionHealth {
    const waiting = this.buffer.length > 0;
    return {
      name: this.name,
      running: this.running,
      stalled: this.running && waiting && Date.now() - this.lastProgressAt > this.stallAfterMs,
      checkpoint: this.checkpoint,
      buffered: this.buffer.length,
      lastCommitAt: this.lastCommitAt,
      lastError: this.lastError,
    };
  }

  /** Applies buffered messages batch by batch; retries a failed batch with backoff until it commits or the runner stops. */
  private async drain(): Promise<void> {
    let failures = 0;
    while (this.running && this.buffer.length > 0) {
      // Under a steady trickle each event would be its own transaction; waiting a moment for
      // more turns many small transactions into one and leaves the CPU to the request path.
      if (this.lingerMs > 0 && this.buffer.length < this.batchSize) {
        await new Promise((resolve) => setTimeout(resolve, this.lingerMs));
      }
      const batch = this.buffer.slice(0, this.batchSize);
      try {
        await this.commitBatch(batch);
        this.buffer.splice(0, batch.length);
        for (const message of batch) message.ack();
        failures = 0;
        this.lastError = undefined;
      } catch (err) {
        failures += 1;
        this.lastError = (err as Error).message;
        this.logger.warn('projection batch failed; retrying', {
          projection: this.name,
          error: this.lastError,
          failures,
        });
        await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 50 * 2 ** failures)));
      }
    }
  }

  /**
   * One transaction for the whole batch. The fast path applies every event straight; if any
   * event throws, the transaction is rolled back and the batch runs again with a savepoint per
   * event so exactly the failing events are parked.
   */
  private async commitBatch(batch: readonly JsMsg[]): Promise<void> {
    let committed: number;
    try {
      committed = await this.applyInTransaction(batch, false);
    } catch (err) {
      if (!(err instanceof ApplyFailure)) throw err;
      committed = await this.applyInTransaction(batch, true);
    }
    this.checkpoint = Math.max(this.checkpoint, committed);
    this.lastCommitAt = new Date();
    this.lastProgressAt = Date.now();
    const reached = this.waiters.filter((waiter) => waiter.sequence <= this.checkpoint);
    this.waiters = this.waiters.filter((waiter) => waiter.sequence > this.checkpoint);
    for (const waiter of reached) waiter.resolve();
  }

  private async applyInTransaction(batch: readonly JsMsg[], isolateFailures: boolean): Promise<number> {
    return this.options.dataSource.transaction(async (manager) => {
      // Re-read the checkpoint under a row lock: it is the truth after a crash, and the lock
      // keeps a second runner that was started by mistake from interleaving.
      const checkpoint = await this.loadCheckpoint(manager, true);
      const fresh = batch.filter((message) => message.seq > checkpoint);
      if (fresh.length === 0) return checkpoint;
      if (isolateFailures) {
        for (const message of fresh) await this.applyIsolated(message, manager);
      } else {
        await this.applyAll(fresh, manager);
      }
      const last = fresh.at(-1)?.seq ?? checkpoint;
      await manager.query(
        `INSERT INTO ${this.checkpointTable(manager)} (projection, sequence, updated_at) VALUES ($1, $2, now())
         ON CONFLICT (projection) DO UPDATE SET sequence = excluded.sequence, updated_at = excluded.updated_at`,
        [this.name, last],
      );
      await this.options.beforeCommit?.(last);
      return last;
    });
  }

  /** Fast path: decode the batch and hand it to the projection in one call. Any failure → isolate. */
  private async applyAll(messages: readonly JsMsg[], manager: EntityManager): Promise<void> {
    const events: Event[] = [];
    const spans: Span[] = [];
    try {
      for (const message of messages) {
        const decoded = this.decode(message);
        if (decoded.kind === 'poison') throw new ApplyFailure(decoded.error);
        if (decoded.kind === 'skip') continue;
        events.push(decoded.event);
        spans.push(this.startSpan(message, decoded.event));
      }
      if (events.length === 0) return;
      const first = spans[0];
      await context.with(first ? trace.setSpan(context.active(), first) : context.active(), () =>
        this.options.projection.apply(events, manager),
      );
    } catch (err) {
      for (const span of spans) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      throw err instanceof ApplyFailure ? err : new ApplyFailure(err);
    } finally {
      for (const span of spans) span.end();
    }
  }

  /** Careful path: one savepoint per event, so exactly the failing events are parked. */
  private async applyIsolated(message: JsMsg, manager: EntityManager): Promise<void> {
    const decoded = this.decode(message);
    if (decoded.kind === 'skip') return;
    if (decoded.kind === 'poison') {
      await this.park(message, manager, decoded.error);
      return;
    }
    const span = this.startSpan(message, decoded.event);
    await manager.query('SAVEPOINT projection_event');
    try {
      await context.with(trace.setSpan(context.active(), span), () =>
        this.options.projection.apply([decoded.event], manager),
      );
      await manager.query('RELEASE SAVEPOINT projection_event');
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      await manager.query('ROLLBACK TO SAVEPOINT projection_event');
      await this.park(message, manager, err, decoded.event);
    } finally {
      span.end();
    }
  }

  /** Skips types the projection does not handle (by header, before parsing when possible). */
  private decode(message: JsMsg): Decoded {
    const headerType = message.headers?.has(EVENT_TYPE_HEADER)
      ? message.headers.get(EVENT_TYPE_HEADER)
      : undefined;
    if (headerType && this.handledTypes && !this.handledTypes.has(headerType)) return { kind: 'skip' };
    try {
      const payload: unknown = JSON.parse(textDecoder.decode(message.data));
      if (!headerType && this.handledTypes) {
        const envelope = eventEnvelopeSchema.safeParse(payload);
        if (envelope.success && !this.handledTypes.has(envelope.data.type)) return { kind: 'skip' };
      }
      return { kind: 'event', event: this.options.store.decoder.decode(payload) };
    } catch (error) {
      return { kind: 'poison', error };
    }
  }

  /** A consumer span continuing the trace the publisher put in the message headers. */
  private startSpan(message: JsMsg, event: Event): Span {
    return messagingTracer.startSpan(
      `process ${this.name}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.system': 'nats',
          'messaging.consumer.group.name': this.name,
          'messaging.message.id': event.id,
        },
      },
      extractTraceContext(message.headers),
    );
  }

  private async park(message: JsMsg, manager: EntityManager, err: unknown, event?: Event): Promise<void> {
    const code = isTesseraError(err)
      ? err.code
      : err instanceof SyntaxError
        ? ErrorCode.ValidationFailed
        : ErrorCode.Internal;
    const reason = err instanceof Error ? err.message : String(err);
    await manager
      .createQueryBuilder()
      .insert()
      .into(DeadLetterEntity)
      .values({
        projection: this.name,
        sequence: String(message.seq),
        subject: this.options.store.namespace.logicalSubject(message.subject),
        eventId: event?.id ?? null,
        eventType: event?.type ?? null,
        errorCode: code,
        reason,
        payload: textDecoder.decode(message.data),
      })
      .orIgnore()
      .execute();
    this.logger.warn('event parked in dead letter', {
      projection: this.name,
      sequence: message.seq,
      errorCode: code,
      reason,
    });
  }

  private async loadCheckpoint(manager: EntityManager, lock = false): Promise<number> {
    // Plain SQL: this runs in every batch, where the query builder's cost shows.
    const rows = (await manager.query(
      `SELECT sequence FROM ${this.checkpointTable(manager)} WHERE projection = $1${lock ? ' FOR UPDATE' : ''}`,
      [this.name],
    )) as { sequence: string }[];
    return rows[0] ? Number(rows[0].sequence) : 0;
  }

  /** The checkpoint table, qualified with the data source's schema. */
  private checkpointTable(manager: EntityManager): string {
    this.checkpointTablePath ??= manager.connection
      .getMetadata(ProjectionCheckpointEntity)
      .tablePath.split('.')
      .map((part) => `"${part}"`)
      .join('.');
    return this.checkpointTablePath;
  }
}

type Decoded = { kind: 'skip' } | { kind: 'poison'; error: unknown } | { kind: 'event'; event: Event };

/** Marks a handler failure in the fast path so the batch is retried with per-event isolation. */
class ApplyFailure extends Error {
  constructor(cause: unknown) {
    super('projection handler failed', { cause });
  }
}
