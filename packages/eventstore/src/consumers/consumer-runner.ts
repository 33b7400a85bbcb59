import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ErrorCode, isTesseraError, type Event } from '@tessera/contracts';
import { DeliverPolicy, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { context, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { ExponentialBackoff, handleType, isTaskCancelledError, retry } from 'cockatiel';
import { pino, type Logger } from 'pino';
import { type DataSource, type EntityManager } from 'typeorm';
import { EVENT_TYPES_HEADER, LEGACY_EVENT_TYPE_HEADER, envelopesIn } from '../commit.js';
import { type EventStore } from '../event-store.js';
import { classifyFailure } from '../failures.js';
import { Lease } from '../leases/lease.js';
import { extractTraceContext, messagingTracer } from '../tracing/nats-trace-context.js';
import { CONSUMER_NAME, type ConsumerDefinition, type ConsumerRole, type Projection } from './consumer.js';
import { EventStoreTables, qualifiedTable } from './tables.js';

/** Options of a {@link ConsumerRunner}. */
export interface ConsumerRunnerOptions {
  store: EventStore;
  dataSource: DataSource;
  role: ConsumerRole;
  /** Most messages handled in one batch (one transaction for a projection). Default 500. */
  batchSize?: number;
  /**
   * How long to wait for more messages before handling a batch that is not full. Trades a few
   * milliseconds of lag for far fewer transactions under load. Default 5 ms; 0 handles at once.
   */
  lingerMs?: number;
  /** An active runner with work waiting and no commit for this long reports itself stalled. Default 30 s. */
  stallAfterMs?: number;
  logger?: Logger;
  /**
   * One runner per consumer is active across all replicas: the holder of the NATS KV lease
   * `lease_<name>`; the others stand by and take over within one TTL when it dies. `false`
   * runs without a lease (a single process that owns the consumer, e.g. a benchmark).
   */
  lease?: { holder?: string; ttlMs?: number } | false;
  /**
   * An error of unknown kind is retried while Postgres or NATS look unhealthy; once it failed
   * this many times with both healthy, the event is parked as `INTERNAL`. Default 5.
   */
  maxHealthyFailures?: number;
  /** Backoff between retries of a transient failure. Defaults 100 ms doubling to 5 s. */
  retryDelayMs?: { initial: number; max: number };
  /**
   * Called just before a batch commits (inside a projection's transaction, after its rows and
   * checkpoint are written; for a reactor, after `react`, before the checkpoint's write).
   * For fault-injection tests only: a crash here must lose nothing.
   */
  beforeCommit?: (lastSequence: number) => Promise<void> | void;
}

/** What readiness checks and operators see. */
export interface ConsumerHealth {
  name: string;
  role: ConsumerRole['kind'];
  running: boolean;
  /** Whether this instance holds the consumer's lease and is processing. */
  active: boolean;
  stalled: boolean;
  checkpoint: number;
  buffered: number;
  lastCommitAt: Date | undefined;
  lastError: string | undefined;
}

/** One parked event, as the operator sees it. */
export interface DeadLetter {
  id: string;
  consumer: string;
  sequence: number;
  eventIndex: number;
  subject: string;
  eventId: string | null;
  eventType: string | null;
  errorCode: string;
  reason: string;
  attempts: number;
  parkedAt: Date;
}

/** Outcome of {@link ConsumerRunner.replayDeadLetters}. */
export interface ReplayOutcome {
  replayed: string[];
  failed: { id: string; errorCode: string; reason: string }[];
}

interface Item {
  index: number;
  event?: Event;
  error?: unknown;
}

interface DecodedMessage {
  message: JsMsg;
  items: Item[];
}

/** A batch failed for a reason that will pass: retry it as a whole, checkpoint unmoved. */
class TransientFailure extends Error {
  override readonly name = 'TransientFailure';
}

/** Someone reset the checkpoint (a rebuild on another replica): start the session again from it. */
class CheckpointMovedBack extends Error {
  override readonly name = 'CheckpointMovedBack';
}

const STANDBY_POLL_MS = 250;
/** How long one pull waits for messages; short enough to notice a lost lease promptly. */
const FETCH_EXPIRES_MS = 2_000;
const MAX_REASON_LENGTH = 2_000;

/**
 * Runs one consumer of a stream — a {@link Projection} or a {@link Reactor}:
 *
 * - **Exactly one active instance** across replicas: the holder of the consumer's lease.
 * - **In order, no gap, nothing twice**: an ordered JetStream consumer started after the
 *   checkpoint kept in Postgres (the truth after any crash); the client recreates it from the
 *   last delivered sequence whenever it sees a gap or the server goes away, and anything at or
 *   below what was already taken is dropped before it reaches the handler. No acks: nothing is
 *   ever redelivered out of order behind a moved checkpoint.
 * - **Checkpoint with the effect**: a projection's rows and checkpoint commit in one
 *   transaction; a reactor's checkpoint moves after its commands succeeded.
 * - **Transient vs poison**: transient failures are retried with backoff without moving the
 *   checkpoint; only events that can never apply are parked in `projection_dead_letters`, and
 *   the operator can re-drive them with {@link replayDeadLetters}.
 * - **Bounded memory**: one pull at a time, and none while the buffer is full.
 */
export class ConsumerRunner {
  readonly definition: ConsumerDefinition;
  private readonly batchSize: number;
  private readonly lingerMs: number;
  private readonly stallAfterMs: number;
  private readonly maxHealthyFailures: number;
  private readonly logger: Logger;
  private readonly handledTypes: ReadonlySet<string> | undefined;
  private readonly retryTransient;
  private lease: Lease | undefined;
  private running = false;
  private active = false;
  private abort = new AbortController();
  private loop: Promise<void> | undefined;
  private drainLoop: Promise<void> | undefined;
  private messages: ConsumerMessages | undefined;
  private buffer: JsMsg[] = [];
  private roomWaiters: (() => void)[] = [];
  private checkpoint = 0;
  private lastSeen = 0;
  private sessionError: unknown;
  private lastCommitAt: Date | undefined;
  private lastProgressAt = Date.now();
  private lastError: string | undefined;
  private readonly healthyFailures = new Map<string, number>();
  private waiters: { sequence: number; resolve: () => void }[] = [];

  constructor(private readonly options: ConsumerRunnerOptions) {
    this.definition = options.role.kind === 'projection' ? options.role.projection : options.role.reactor;
    if (!CONSUMER_NAME.test(this.definition.name)) {
      throw new RangeError(
        `consumer name "${this.definition.name}" must be kebab-case (<service>-<what>): letters, digits and '-'`,
      );
    }
    this.batchSize = options.batchSize ?? 500;
    this.lingerMs = options.lingerMs ?? 5;
    this.stallAfterMs = options.stallAfterMs ?? 30_000;
    this.maxHealthyFailures = options.maxHealthyFailures ?? 5;
    this.logger = (options.logger ?? pino({ level: 'silent' })).child({ consumer: this.definition.name });
    this.handledTypes = this.definition.handles
      ? new Set(this.definition.handles.map((contract) => contract.type))
      : undefined;
    this.retryTransient = retry(handleType(TransientFailure), {
      maxAttempts: Number.POSITIVE_INFINITY,
      backoff: new ExponentialBackoff({
        initialDelay: options.retryDelayMs?.initial ?? 100,
        maxDelay: options.retryDelayMs?.max ?? 5_000,
      }),
    });
    this.retryTransient.onRetry(({ delay, ...reason }) => {
      const cause = 'error' in reason ? (reason.error as Error).cause : undefined;
      this.noteFailure(cause, 'consumer batch failed transiently; retrying', {
        retryInMs: Math.round(delay),
      });
    });
  }

  get name(): string {
    return this.definition.name;
  }

  get role(): ConsumerRole['kind'] {
    return this.options.role.kind;
  }

  private get streamName(): string {
    return this.options.store.namespace.streamName(this.definition.stream);
  }

  /** Competes for the lease and, while holding it, consumes. Returns at once; work happens in the background. */
  async start(): Promise<void> {
    if (this.running) return;
    if (this.options.lease !== false && !this.lease) {
      this.lease = await Lease.open(this.options.store.connection, {
        name: this.name,
        // Unique per runner instance: two processes (or two runners in one test) never share it.
        holder: this.options.lease?.holder ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
        ...(this.options.lease?.ttlMs === undefined ? {} : { ttlMs: this.options.lease.ttlMs }),
        namespace: this.options.store.namespace.prefix,
      });
    }
    this.running = true;
    this.abort = new AbortController();
    await this.lease?.start();
    this.lastProgressAt = Date.now();
    this.loop = this.run();
    this.logger.info({ role: this.role, leaseHeld: this.lease?.isHeld ?? true }, 'consumer started');
  }

  /** Stops consuming, waits for the batch in flight, and hands the lease to a standby replica. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.abort.abort();
    this.messages?.stop();
    this.wakeRoomWaiters();
    await this.loop;
    await this.drainLoop;
    this.buffer = [];
    await this.lease?.release();
  }

  /**
   * Rebuilds a projection from sequence 1: stops, deletes its rows, checkpoint and dead letters
   * in one transaction, and starts again. A replica that was active meanwhile notices the
   * checkpoint went back and restarts from it.
   */
  async rebuild(): Promise<void> {
    const projection = this.projection('rebuild');
    await this.stop();
    await this.options.dataSource.transaction(async (manager) => {
      await projection.reset(manager);
      await manager.query(`DELETE FROM ${this.table(manager, 'checkpoints')} WHERE projection = $1`, [
        this.name,
      ]);
      await manager.query(`DELETE FROM ${this.table(manager, 'deadLetters')} WHERE projection = $1`, [
        this.name,
      ]);
    });
    this.checkpoint = 0;
    await this.start();
  }

  /** Resolves once the committed checkpoint reaches `sequence` (whichever replica is active). */
  async waitForSequence(sequence: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.checkpoint >= sequence) return;
      // Another replica may be the active one: then only Postgres knows how far it got.
      const stored = this.active ? this.checkpoint : await this.storedCheckpoint();
      if (stored >= sequence) return;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `consumer ${this.name} did not reach sequence ${sequence} in ${timeoutMs} ms (at ${stored})`,
        );
      await this.sleepUntilCheckpoint(sequence, this.active ? left : Math.min(left, 100));
    }
  }

  /** Resolves once the checkpoint covers the last message in the stream that this consumer reads. */
  async waitUntilCaughtUp(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let target: number | undefined;
    while (target === undefined) {
      try {
        target = await this.options.store.lastSequence(this.definition.stream, this.definition.filterSubject);
      } catch (err) {
        // A stream electing a leader answers nothing for a moment; wait it out.
        if (classifyFailure(err) !== 'transient' || Date.now() > deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    await this.waitForSequence(target, Math.max(1, deadline - Date.now()));
  }

  /** The checkpoint as committed in Postgres. */
  async storedCheckpoint(): Promise<number> {
    return this.loadCheckpoint(this.options.dataSource.manager, false);
  }

  /** For readiness: stalled means this instance is active, work is waiting, and nothing committed for `stallAfterMs`. */
  health(): ConsumerHealth {
    const waiting = this.buffer.length > 0;
    return {
      name: this.name,
      role: this.role,
      running: this.running,
      active: this.active,
      stalled: this.running && this.active && waiting && Date.now() - this.lastProgressAt > this.stallAfterMs,
      checkpoint: this.checkpoint,
      buffered: this.buffer.length,
      lastCommitAt: this.lastCommitAt,
      lastError: this.lastError,
    };
  }

  /** Every event this consumer parked, oldest first. */
  async deadLetters(): Promise<DeadLetter[]> {
    const rows = (await this.options.dataSource.query(
      `SELECT id, projection, sequence, event_index, subject, event_id, event_type, error_code, reason, attempts, parked_at
         FROM ${this.table(this.options.dataSource, 'deadLetters')} WHERE projection = $1 ORDER BY sequence, event_index`,
      [this.name],
    )) as DeadLetterRow[];
    return rows.map(toDeadLetter);
  }

  /**
   * Re-drives parked events (all of this consumer's, or those with the given ids) through the
   * same `apply` / `react` as live events, oldest first; each one that succeeds leaves the
   * dead-letter table, each that fails again stays with the new reason. For after a fix (a price
   * was set, a bug deployed away). A projection's replayed event lands after later ones: rebuild
   * instead when the order matters to the read model.
   */
  async replayDeadLetters(ids?: readonly string[]): Promise<ReplayOutcome> {
    const table = this.table(this.options.dataSource, 'deadLetters');
    const rows = (await this.options.dataSource.query(
      `SELECT id, event_index, payload FROM ${table}
        WHERE projection = $1 AND ($2::bigint[] IS NULL OR id = ANY($2::bigint[])) ORDER BY sequence, event_index`,
      [this.name, ids === undefined ? null : ids],
    )) as { id: string; event_index: number; payload: string }[];
    const outcome: ReplayOutcome = { replayed: [], failed: [] };
    for (const row of rows) {
      try {
        const envelope = envelopesIn(new TextEncoder().encode(row.payload))[row.event_index];
        const event = this.options.store.decoder.decode(envelope);
        if (this.options.role.kind === 'projection') {
          const projection = this.options.role.projection;
          await this.options.dataSource.transaction(async (manager) => {
            await projection.apply([event], manager);
            await manager.query(`DELETE FROM ${table} WHERE id = $1`, [row.id]);
          });
        } else {
          await this.options.role.reactor.react([event]);
          await this.options.dataSource.query(`DELETE FROM ${table} WHERE id = $1`, [row.id]);
        }
        outcome.replayed.push(row.id);
      } catch (err) {
        const { code, reason } = describeFailure(err);
        await this.options.dataSource.query(
          `UPDATE ${table} SET error_code = $2, reason = $3, attempts = attempts + 1, last_failed_at = now() WHERE id = $1`,
          [row.id, code, reason],
        );
        outcome.failed.push({ id: row.id, errorCode: code, reason });
      }
    }
    this.logger.info(
      { replayed: outcome.replayed.length, failed: outcome.failed.length },
      'dead letters replayed',
    );
    return outcome;
  }

  private projection(operation: string): Projection {
    if (this.options.role.kind !== 'projection')
      throw new Error(`${operation}: consumer ${this.name} is a reactor, not a projection`);
    return this.options.role.projection;
  }

  /** Stands by while another replica holds the lease; leads while this one does. */
  private async run(): Promise<void> {
    let sessionFailures = 0;
    while (this.running) {
      if (this.lease && !this.lease.isHeld) {
        this.active = false;
        await this.pause(STANDBY_POLL_MS);
        continue;
      }
      try {
        await this.lead();
        sessionFailures = 0;
      } catch (err) {
        if (!this.running) break;
        sessionFailures += 1;
        this.noteFailure(err, 'consumer session ended; starting again from the checkpoint', {
          failures: sessionFailures,
        });
        await this.pause(Math.min(5_000, 100 * 2 ** Math.min(sessionFailures, 6)));
      } finally {
        this.active = false;
      }
    }
  }

  /** One session as the active instance: from the stored checkpoint until the lease is lost, the runner stops, or something breaks. */
  private async lead(): Promise<void> {
    this.sessionError = undefined;
    this.buffer = [];
    this.checkpoint = await this.loadCheckpoint(this.options.dataSource.manager, false);
    this.lastSeen = this.checkpoint;
    this.active = true;
    const filter = this.definition.filterSubject ?? this.definition.stream.subjects[0];
    const consumer = await this.options.store.jetstream.consumers.get(this.streamName, {
      ...(filter ? { filter_subjects: [this.options.store.namespace.subject(filter)] } : {}),
      ...(this.checkpoint > 0
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.checkpoint + 1 }
        : { deliver_policy: DeliverPolicy.All }),
    });
    this.logger.info({ checkpoint: this.checkpoint }, 'consumer active');
    try {
      while (this.leading()) {
        await this.waitForRoom();
        if (!this.leading()) break;
        const messages = await consumer.fetch({ max_messages: this.batchSize, expires: FETCH_EXPIRES_MS });
        this.messages = messages;
        for await (const message of messages) {
          // An ordered consumer delivers each sequence once, in order; this guard makes a
          // duplicate harmless even if that ever failed.
          if (message.seq <= this.lastSeen) continue;
          this.lastSeen = message.seq;
          this.buffer.push(message);
          this.drainLoop ??= this.drain().finally(() => {
            this.drainLoop = undefined;
          });
          if (!this.leading()) {
            messages.stop();
            break;
          }
        }
      }
    } finally {
      this.messages?.stop();
      this.messages = undefined;
      await this.drainLoop;
    }
    if (this.sessionError !== undefined) throw this.sessionError;
    if (this.running) this.logger.info({ checkpoint: this.checkpoint }, 'consumer standing by (lease lost)');
  }

  private leading(): boolean {
    return this.running && this.sessionError === undefined && (this.lease?.isHeld ?? true);
  }

  /** Handles buffered messages batch by batch; a transient failure retries the same batch with backoff. */
  private async drain(): Promise<void> {
    while (this.leading() && this.buffer.length > 0) {
      // Under a steady trickle each event would be its own transaction; waiting a moment for
      // more turns many small transactions into one and leaves the CPU to the request path.
      if (this.lingerMs > 0 && this.buffer.length < this.batchSize) await this.pause(this.lingerMs);
      const batch = this.buffer.slice(0, this.batchSize);
      try {
        await this.retryTransient.execute(() => this.handleBatch(batch), this.abort.signal);
      } catch (err) {
        if (isTaskCancelledError(err) || !this.running) return;
        // Not transient: the checkpoint moved back, or a bug in the runner. End the session;
        // the next one starts from the stored checkpoint.
        this.sessionError = err;
        this.messages?.stop();
        return;
      }
      this.buffer.splice(0, batch.length);
      this.lastError = undefined;
      this.wakeRoomWaiters();
    }
  }

  private async handleBatch(batch: readonly JsMsg[]): Promise<void> {
    const committed =
      this.options.role.kind === 'projection'
        ? await this.handleProjectionBatch(this.options.role.projection, batch)
        : await this.handleReactorBatch(batch);
    if (committed === undefined) return;
    this.checkpoint = Math.max(this.checkpoint, committed);
    this.lastCommitAt = new Date();
    this.lastProgressAt = Date.now();
    const reached = this.waiters.filter((waiter) => waiter.sequence <= this.checkpoint);
    this.waiters = this.waiters.filter((waiter) => waiter.sequence > this.checkpoint);
    for (const waiter of reached) waiter.resolve();
  }

  /**
   * One transaction for the whole batch. The fast path applies every event in one call; if it
   * fails with anything but a transient error, the batch runs again with a savepoint per event
   * so exactly the failing events are parked.
   */
  private async handleProjectionBatch(
    projection: Projection,
    batch: readonly JsMsg[],
  ): Promise<number | undefined> {
    try {
      return await this.projectionTransaction(projection, batch, false);
    } catch (err) {
      if (err instanceof TransientFailure || err instanceof CheckpointMovedBack) throw err;
      if (classifyFailure(err) === 'transient')
        throw new TransientFailure('projection batch failed', { cause: err });
      return this.projectionTransaction(projection, batch, true);
    }
  }

  private async projectionTransaction(
    projection: Projection,
    batch: readonly JsMsg[],
    isolate: boolean,
  ): Promise<number | undefined> {
    try {
      return await this.options.dataSource.transaction(async (manager) => {
        // Re-read the checkpoint under a row lock: it is the truth after a crash, and the lock
        // serialises this batch with one from a replica that still believes it is active.
        const stored = await this.loadCheckpoint(manager, true);
        if (stored < this.checkpoint) {
          throw new CheckpointMovedBack(
            `checkpoint of ${this.name} went back from ${this.checkpoint} to ${stored}`,
          );
        }
        const fresh = batch.filter((message) => message.seq > stored);
        if (fresh.length === 0) return stored;
        const decoded = fresh.map((message) => this.decode(message));
        if (isolate) {
          for (const message of decoded) {
            for (const item of message.items) await this.applyIsolated(projection, message, item, manager);
          }
        } else {
          const events = decoded.flatMap((message) => message.items);
          if (events.some((item) => item.error !== undefined)) throw new Error('undecodable event in batch');
          await this.traced(decoded, () =>
            projection.apply(
              events.map((item) => item.event as Event),
              manager,
            ),
          );
        }
        const last = (fresh.at(-1) as JsMsg).seq;
        await this.writeCheckpoint(manager, last);
        await this.options.beforeCommit?.(last);
        return last;
      });
    } catch (err) {
      if (err instanceof TransientFailure || err instanceof CheckpointMovedBack) throw err;
      // On the careful path every event's own failure was handled inside: what escapes is the
      // transaction itself (a failed COMMIT, a dropped connection). The fast path's failure goes
      // back to the caller, which tells transient from the rest.
      if (isolate) throw new TransientFailure('projection transaction failed', { cause: err });
      throw err;
    }
  }

  /** Careful path: one savepoint per event, so exactly the failing ones are parked. */
  private async applyIsolated(
    projection: Projection,
    message: DecodedMessage,
    item: Item,
    manager: EntityManager,
  ): Promise<void> {
    if (item.error !== undefined) {
      await this.park(manager, message.message, item, item.error);
      return;
    }
    const event = item.event as Event;
    await manager.query('SAVEPOINT consumer_event');
    try {
      await this.traced([{ message: message.message, items: [item] }], () =>
        projection.apply([event], manager),
      );
      await manager.query('RELEASE SAVEPOINT consumer_event');
      this.healthyFailures.delete(failureKey(message.message, item));
    } catch (err) {
      await manager.query('ROLLBACK TO SAVEPOINT consumer_event');
      if (await this.shouldRetry(err, message.message, item)) {
        throw new TransientFailure(`event ${event.id} failed`, { cause: err });
      }
      await this.park(manager, message.message, item, err);
    }
  }

  /**
   * A reactor's batch: `react` on every event at once; if that fails with anything but a
   * transient error, one event at a time so exactly the failing ones are parked. Then the
   * parked events and the checkpoint are written in one short transaction.
   */
  private async handleReactorBatch(batch: readonly JsMsg[]): Promise<number | undefined> {
    if (this.options.role.kind !== 'reactor') throw new Error('not a reactor');
    const reactor = this.options.role.reactor;
    const stored = await this.storedCheckpoint().catch((err: unknown) => {
      throw new TransientFailure('checkpoint unreadable', { cause: err });
    });
    if (stored < this.checkpoint) {
      throw new CheckpointMovedBack(
        `checkpoint of ${this.name} went back from ${this.checkpoint} to ${stored}`,
      );
    }
    const fresh = batch.filter((message) => message.seq > stored);
    if (fresh.length === 0) return stored;
    const decoded = fresh.map((message) => this.decode(message));
    const parked: { message: JsMsg; item: Item; error: unknown }[] = [];
    const allItems = decoded.flatMap((message) => message.items.map((item) => ({ message, item })));
    let handled = false;
    if (allItems.every(({ item }) => item.error === undefined)) {
      try {
        const events = allItems.map(({ item }) => item.event as Event);
        if (events.length > 0) await this.traced(decoded, () => reactor.react(events));
        handled = true;
      } catch (err) {
        if (classifyFailure(err) === 'transient')
          throw new TransientFailure('reactor batch failed', { cause: err });
      }
    }
    if (!handled) {
      for (const { message, item } of allItems) {
        if (item.error !== undefined) {
          parked.push({ message: message.message, item, error: item.error });
          continue;
        }
        try {
          await this.traced([{ message: message.message, items: [item] }], () =>
            reactor.react([item.event as Event]),
          );
          this.healthyFailures.delete(failureKey(message.message, item));
        } catch (err) {
          // Events before this one are done and will be reacted to again on the retry: reactors
          // are idempotent by contract.
          if (await this.shouldRetry(err, message.message, item)) {
            throw new TransientFailure(`event ${(item.event as Event).id} failed`, { cause: err });
          }
          parked.push({ message: message.message, item, error: err });
        }
      }
    }
    const last = (fresh.at(-1) as JsMsg).seq;
    try {
      await this.options.dataSource.transaction(async (manager) => {
        for (const entry of parked) await this.park(manager, entry.message, entry.item, entry.error);
        await this.writeCheckpoint(manager, last);
        await this.options.beforeCommit?.(last);
      });
    } catch (err) {
      throw new TransientFailure('reactor checkpoint not written', { cause: err });
    }
    return last;
  }

  /** Whether a failed event should be retried (transient, or unknown while a dependency is down) rather than parked. */
  private async shouldRetry(err: unknown, message: JsMsg, item: Item): Promise<boolean> {
    const kind = classifyFailure(err);
    if (kind === 'transient') return true;
    if (kind === 'poison') return false;
    if (!(await this.dependenciesHealthy())) return true;
    const key = failureKey(message, item);
    const failures = (this.healthyFailures.get(key) ?? 0) + 1;
    this.healthyFailures.set(key, failures);
    if (failures < this.maxHealthyFailures) return true;
    this.healthyFailures.delete(key);
    return false;
  }

  private async dependenciesHealthy(): Promise<boolean> {
    try {
      await Promise.all([this.options.dataSource.query('SELECT 1'), this.options.store.connection.flush()]);
      return true;
    } catch {
      return false;
    }
  }

  /** Splits a message into its events; skips types this consumer does not handle, before parsing when the header allows. */
  private decode(message: JsMsg): DecodedMessage {
    const header =
      message.headers?.get(EVENT_TYPES_HEADER) || message.headers?.get(LEGACY_EVENT_TYPE_HEADER) || undefined;
    if (header && this.handledTypes && !header.split(',').some((type) => this.handledTypes?.has(type))) {
      return { message, items: [] };
    }
    let envelopes: unknown[];
    try {
      envelopes = envelopesIn(message.data);
    } catch (error) {
      return { message, items: [{ index: 0, error }] };
    }
    const items: Item[] = [];
    envelopes.forEach((envelope, index) => {
      const type = (envelope as { type?: unknown } | null)?.type;
      if (this.handledTypes && typeof type === 'string' && !this.handledTypes.has(type)) return;
      try {
        items.push({ index, event: this.options.store.decoder.decode(envelope) });
      } catch (error) {
        items.push({ index, error });
      }
    });
    return { message, items };
  }

  /** Runs a handler under consumer spans continuing the traces the publishers put in the headers. */
  private async traced(messages: readonly DecodedMessage[], work: () => Promise<void>): Promise<void> {
    const spans: Span[] = messages
      .filter((message) => message.items.length > 0)
      .map((message) =>
        messagingTracer.startSpan(
          `process ${this.name}`,
          {
            kind: SpanKind.CONSUMER,
            attributes: {
              'messaging.system': 'nats',
              'messaging.consumer.group.name': this.name,
              'messaging.message.id': message.items[0]?.event?.id ?? String(message.message.seq),
            },
          },
          extractTraceContext(message.message.headers),
        ),
      );
    try {
      const first = spans[0];
      await context.with(first ? trace.setSpan(context.active(), first) : context.active(), work);
    } catch (err) {
      for (const span of spans) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      throw err;
    } finally {
      for (const span of spans) span.end();
    }
  }

  private async park(manager: EntityManager, message: JsMsg, item: Item, err: unknown): Promise<void> {
    const { code, reason } = describeFailure(err);
    await manager.query(
      `INSERT INTO ${this.table(manager, 'deadLetters')}
         (projection, sequence, event_index, subject, event_id, event_type, error_code, reason, payload)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (projection, sequence, event_index) DO NOTHING`,
      [
        this.name,
        String(message.seq),
        item.index,
        this.options.store.namespace.logicalSubject(message.subject),
        item.event?.id ?? null,
        item.event?.type ?? null,
        code,
        reason,
        new TextDecoder().decode(message.data),
      ],
    );
    this.logger.warn(
      { sequence: message.seq, eventIndex: item.index, errorCode: code, reason },
      'event parked in dead letter',
    );
  }

  private async writeCheckpoint(manager: EntityManager, sequence: number): Promise<void> {
    const table = this.table(manager, 'checkpoints');
    await manager.query(
      `INSERT INTO ${table} (projection, sequence, updated_at) VALUES ($1, $2, now())
       ON CONFLICT (projection) DO UPDATE SET sequence = GREATEST(${table}.sequence, excluded.sequence), updated_at = now()`,
      [this.name, sequence],
    );
  }

  private async loadCheckpoint(manager: EntityManager, lock: boolean): Promise<number> {
    // Plain SQL: this runs in every batch, where the query builder's cost shows.
    const rows = (await manager.query(
      `SELECT sequence FROM ${this.table(manager, 'checkpoints')} WHERE projection = $1${lock ? ' FOR UPDATE' : ''}`,
      [this.name],
    )) as { sequence: string }[];
    return rows[0] ? Number(rows[0].sequence) : 0;
  }

  private tablePaths = new Map<string, string>();

  private table(source: DataSource | EntityManager, which: keyof typeof EventStoreTables): string {
    let path = this.tablePaths.get(which);
    if (!path) {
      path = qualifiedTable(source, EventStoreTables[which]);
      this.tablePaths.set(which, path);
    }
    return path;
  }

  private noteFailure(err: unknown, message: string, extra: Record<string, unknown> = {}): void {
    this.lastError = err instanceof Error ? err.message : String(err);
    this.logger.warn({ err, ...extra }, message);
  }

  private waitForRoom(): Promise<void> {
    if (this.buffer.length < this.batchSize * 2 || !this.running) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  private wakeRoomWaiters(): void {
    for (const wake of this.roomWaiters.splice(0)) wake();
  }

  /** A sleep that ends early when the runner stops. */
  private pause(ms: number): Promise<void> {
    if (!this.running) return Promise.resolve();
    const signal = this.abort.signal;
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Sleeps until the in-memory checkpoint reaches `sequence` or `ms` passed. */
  private sleepUntilCheckpoint(sequence: number, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter.resolve !== done);
        resolve();
      }, ms);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push({ sequence, resolve: done });
    });
  }
}

interface DeadLetterRow {
  id: string;
  projection: string;
  sequence: string;
  event_index: number;
  subject: string;
  event_id: string | null;
  event_type: string | null;
  error_code: string;
  reason: string;
  attempts: number;
  parked_at: Date;
}

function toDeadLetter(row: DeadLetterRow): DeadLetter {
  return {
    id: String(row.id),
    consumer: row.projection,
    sequence: Number(row.sequence),
    eventIndex: row.event_index,
    subject: row.subject,
    eventId: row.event_id,
    eventType: row.event_type,
    errorCode: row.error_code,
    reason: row.reason,
    attempts: row.attempts,
    parkedAt: row.parked_at,
  };
}

function failureKey(message: JsMsg, item: Item): string {
  return `${message.seq}:${item.index}`;
}

/** The stable code and a bounded reason for a parked event; never a stack trace. */
function describeFailure(err: unknown): { code: string; reason: string } {
  const code = isTesseraError(err)
    ? err.code
    : classifyFailure(err) === 'poison'
      ? ErrorCode.ValidationFailed
      : ErrorCode.Internal;
  const message = err instanceof Error ? err.message : String(err);
  return {
    code,
    reason: message.length > MAX_REASON_LENGTH ? `${message.slice(0, MAX_REASON_LENGTH)}…` : message,
  };
}
