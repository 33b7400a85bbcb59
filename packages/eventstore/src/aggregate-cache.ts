import { contextOf, type Event, type EventMetadata, type PendingEvent } from '@tessera/contracts';
import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import { pino, type Logger } from 'pino';
import { type Decider } from './decider.js';
import { ConcurrencyExhaustedError, isConcurrencyConflict } from './errors.js';
import { NO_STREAM, type EventStore, type StreamPosition } from './event-store.js';
import { type SnapshotStore } from './snapshots/snapshot-store.js';

interface Entry<State> {
  state: State;
  position: StreamPosition;
  /** The version the newest stored snapshot was taken at. */
  snapshotVersion: number;
}

/** What one command produced. */
export interface CachedCommandResult<State> {
  readonly state: State;
  readonly events: readonly Event[];
}

/** How an aggregate's state is snapshotted (see {@link AggregateCache}). */
export interface SnapshotOptions<State> {
  store: SnapshotStore;
  /** A snapshot is written once this many events were appended since the last one. */
  every: number;
  /** Bump when `encode`'s output changes shape: older snapshots are then ignored and rebuilt. */
  schemaVersion: number;
  /** State → JSON-safe value (bigints as strings, maps as arrays). */
  encode(state: State): unknown;
  /** The inverse of `encode`. */
  decode(encoded: unknown): State;
}

/** Options of an {@link AggregateCache}. */
export interface AggregateCacheOptions<State> {
  /** Conflicting attempts before a command gives up with `CONCURRENCY_EXHAUSTED`. Default 20. */
  maxAttempts?: number;
  /** Aggregates kept in memory; the oldest is dropped (and reloaded on use) past this. Default 100,000. */
  maxEntries?: number;
  snapshots?: SnapshotOptions<State>;
  logger?: Logger;
}

/**
 * Command handling on aggregates whose state stays in memory between commands: load →
 * decide → append, with the state kept for the next command. Commands on one aggregate are
 * queued in-process (no self-inflicted conflicts); other processes writing the same aggregate
 * are caught by the append's expected position, after which the state is reloaded and the
 * command decided again (backoff from cockatiel) — so the cache can be stale, never wrong.
 *
 * Loading reads the newest snapshot (when configured) and only the events after it, so a busy
 * aggregate's load time stays bounded; snapshots are written in the background every
 * `snapshots.every` events and are only ever a shortcut.
 *
 * `evolve` may mutate the state it is given: a state is only ever evolved after its append
 * succeeded, and a failed decision leaves it untouched.
 */
export class AggregateCache<Command, State> {
  private readonly entries = new Map<string, Entry<State>>();
  private readonly loading = new Map<string, Promise<Entry<State>>>();
  private readonly tails = new Map<string, Promise<void>>();
  private readonly logger: Logger;
  private readonly conflictRetry;

  constructor(
    private readonly store: EventStore,
    private readonly decider: Decider<Command, State>,
    private readonly options: AggregateCacheOptions<State> = {},
  ) {
    this.logger = options.logger ?? pino({ level: 'silent' });
    this.conflictRetry = retry(handleWhen(isConcurrencyConflict), {
      maxAttempts: (options.maxAttempts ?? 20) - 1,
      backoff: new ExponentialBackoff({ initialDelay: 1, maxDelay: 50 }),
    });
  }

  /** Runs `command` on the aggregate at `streamId`. Domain errors from `decide` propagate unchanged. */
  execute(
    streamId: string,
    command: Command,
    metadata: EventMetadata = {},
  ): Promise<CachedCommandResult<State>> {
    return this.enqueue(streamId, () => this.run(streamId, command, metadata));
  }

  /**
   * The aggregate's state as last known to this process, loaded on first use. Never waits
   * behind the aggregate's queued commands (a stuck write must not stall reads); it may be a
   * command behind another replica's writes, like any cached read. Read it synchronously: a
   * later command evolves the same object.
   */
  async read(streamId: string): Promise<State> {
    return (this.entries.get(streamId) ?? (await this.load(streamId, false))).state;
  }

  /** The cached position of an aggregate, if it is cached. */
  cachedPosition(streamId: string): StreamPosition | undefined {
    return this.entries.get(streamId)?.position;
  }

  /** Drops one aggregate from the cache; its next command reloads it. */
  invalidate(streamId: string): void {
    this.entries.delete(streamId);
  }

  /** Forgets every cached aggregate (tests: a fresh replica). */
  clear(): void {
    this.entries.clear();
  }

  private enqueue<T>(streamId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(streamId) ?? Promise.resolve();
    const run = previous.then(work);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(streamId, tail);
    void tail.then(() => {
      if (this.tails.get(streamId) === tail) this.tails.delete(streamId);
    });
    return run;
  }

  private async run(
    streamId: string,
    command: Command,
    metadata: EventMetadata,
  ): Promise<CachedCommandResult<State>> {
    try {
      return await this.conflictRetry.execute(async ({ attempt }) => {
        // A conflict means another process wrote this aggregate: decide again on fresh state.
        const entry = await this.load(streamId, attempt > 0);
        const pending: readonly PendingEvent[] = this.decider.decide(command, entry.state);
        if (pending.length === 0) return { state: entry.state, events: [] };
        const result = await this.store.append(streamId, pending, { ...metadata, expected: entry.position });
        for (const event of result.events) entry.state = this.decider.evolve(entry.state, event as Event);
        entry.position = result.position;
        this.maybeSnapshot(streamId, entry);
        return { state: entry.state, events: result.events as Event[] };
      });
    } catch (err) {
      if (isConcurrencyConflict(err))
        throw new ConcurrencyExhaustedError(streamId, this.options.maxAttempts ?? 20, err);
      throw err;
    }
  }

  private load(streamId: string, force: boolean): Promise<Entry<State>> {
    const existing = this.entries.get(streamId);
    if (existing && !force) return Promise.resolve(existing);
    // Concurrent reads of an aggregate that is not cached share one load.
    let loading = this.loading.get(streamId);
    if (!loading) {
      loading = this.loadFromStore(streamId).finally(() => this.loading.delete(streamId));
      this.loading.set(streamId, loading);
    }
    return loading;
  }

  private async loadFromStore(streamId: string): Promise<Entry<State>> {
    const snapshot = await this.loadSnapshot(streamId);
    let state = snapshot?.state ?? this.decider.initialState();
    const after = snapshot?.position ?? NO_STREAM;
    const { events, position } = await this.store.readStream(streamId, { after });
    for (const event of events) state = this.decider.evolve(state, event);
    const entry: Entry<State> = { state, position, snapshotVersion: after.version };
    this.entries.set(streamId, entry);
    this.evictIfFull();
    this.maybeSnapshot(streamId, entry);
    return entry;
  }

  private async loadSnapshot(
    streamId: string,
  ): Promise<{ state: State; position: StreamPosition } | undefined> {
    const snapshots = this.options.snapshots;
    if (!snapshots) return undefined;
    try {
      const stored = await snapshots.store.load(contextOf(streamId), streamId);
      if (!stored || stored.schemaVersion !== snapshots.schemaVersion) return undefined;
      return { state: snapshots.decode(stored.state), position: stored.position };
    } catch (err) {
      // A snapshot is a shortcut: if it cannot be read, the full stream is the truth.
      this.logger.warn({ err, streamId }, 'snapshot unreadable; loading the whole stream');
      return undefined;
    }
  }

  /** Writes a snapshot in the background when enough events arrived since the last one. */
  private maybeSnapshot(streamId: string, entry: Entry<State>): void {
    const snapshots = this.options.snapshots;
    if (!snapshots || entry.position.version - entry.snapshotVersion < snapshots.every) return;
    const position = entry.position;
    // Encoded now, synchronously: the state object keeps evolving after this call.
    const encoded = snapshots.encode(entry.state);
    entry.snapshotVersion = position.version;
    snapshots.store
      .save(contextOf(streamId), streamId, {
        schemaVersion: snapshots.schemaVersion,
        position,
        state: encoded,
      })
      .catch((err: unknown) => {
        this.logger.warn({ err, streamId }, 'snapshot not saved; the next one will try again');
        if (entry.snapshotVersion === position.version) entry.snapshotVersion = 0;
      });
  }

  private evictIfFull(): void {
    const maxEntries = this.options.maxEntries ?? 100_000;
    if (this.entries.size <= maxEntries) return;
    // Oldest inserted first; an evicted aggregate is simply reloaded on its next command.
    const oldest = this.entries.keys().next();
    if (!oldest.done) this.entries.delete(oldest.value);
  }
}
