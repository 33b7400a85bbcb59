import { type Event, type EventMetadata, type PendingEvent } from '@tessera/contracts';
import { type Decider } from './command-handler.js';
import { ConcurrencyExhaustedError, isConcurrencyConflict } from './errors.js';
import { type EventStore, type StreamPosition } from './event-store.js';

interface Entry<State> {
  state: State;
  position: StreamPosition;
}

/** What one command produced. */
export interface CachedCommandResult<State> {
  readonly state: State;
  readonly events: readonly Event[];
}

/**
 * `handleCommand` with the aggregate's state kept in memory between commands, as the event
 * store's own command handler would reload it on every call. Commands on one aggregate are
 * queued in-process (no self-inflicted conflicts); other processes writing the same aggregate
 * are caught by the append's expected position, after which the state is reloaded from the
 * stream and the command decided again — so the cache can be stale, never wrong.
 *
 * `evolve` may mutate the state it is given: a state is only ever evolved after its append
 * succeeded, and a failed decision leaves it untouched.
 */
export class AggregateCache<Command, State> {
  private readonly entries = new Map<string, Entry<State>>();

  constructor(
    private readonly store: EventStore,
    private readonly decider: Decider<Command, State>,
    private readonly options: { maxAttempts?: number; maxEntries?: number } = {},
  ) {}

  /** Runs `command` on the aggregate at `streamId`. Domain errors from `decide` propagate unchanged. */
  execute(
    streamId: string,
    command: Command,
    metadata: EventMetadata = {},
  ): Promise<CachedCommandResult<State>> {
    return this.enqueue(streamId, () => this.run(streamId, command, metadata));
  }

  /** The aggregate's current state (loaded on first use), read in turn with its commands. */
  read(streamId: string): Promise<State> {
    return this.enqueue(streamId, async () => (await this.load(streamId, false)).state);
  }

  /** The cached position of an aggregate, if it is cached. */
  cachedPosition(streamId: string): StreamPosition | undefined {
    return this.entries.get(streamId)?.position;
  }

  /** Drops one aggregate from the cache; its next command reloads it. */
  invalidate(streamId: string): void {
    this.entries.delete(streamId);
  }

  /** Forgets every cached aggregate (tests; a replica that suspects it diverged). */
  clear(): void {
    this.entries.clear();
  }

  private readonly tails = new Map<string, Promise<void>>();

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
    let entry = await this.load(streamId, false);
    const maxAttempts = this.options.maxAttempts ?? 20;
    let lastConflict: unknown;
    for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
      const pending: readonly PendingEvent[] = this.decider.decide(command, entry.state);
      if (pending.length === 0) return { state: entry.state, events: [] };
      try {
        const result = await this.store.append(streamId, pending, { ...metadata, expected: entry.position });
        for (const event of result.events) entry.state = this.decider.evolve(entry.state, event as Event);
        entry.position = result.position;
        return { state: entry.state, events: result.events as Event[] };
      } catch (err) {
        if (!isConcurrencyConflict(err)) throw err;
        lastConflict = err;
        // Another process wrote this aggregate: reload and decide again on the fresh state.
        const backoffMs = Math.floor(Math.random() * Math.min(50, 2 ** attempt));
        await new Promise((resolve) => setTimeout(resolve, backoffMs));
        entry = await this.load(streamId, true);
      }
    }
    throw new ConcurrencyExhaustedError(streamId, maxAttempts, lastConflict);
  }

  private async load(streamId: string, force: boolean): Promise<Entry<State>> {
    const existing = this.entries.get(streamId);
    if (existing && !force) return existing;
    const { events, position } = await this.store.readStream(streamId);
    let state = this.decider.initialState();
    for (const event of events) state = this.decider.evolve(state, event);
    const entry: Entry<State> = { state, position };
    this.entries.set(streamId, entry);
    this.evictIfFull();
    return entry;
  }

  private evictIfFull(): void {
    const maxEntries = this.options.maxEntries ?? 100_000;
    if (this.entries.size <= maxEntries) return;
    // Oldest inserted first; an evicted aggregate is simply reloaded on its next command.
    const oldest = this.entries.keys().next();
    if (!oldest.done) this.entries.delete(oldest.value);
  }
}
