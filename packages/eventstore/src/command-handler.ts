import { type Event, type EventMetadata, type PendingEvent } from '@tessera/contracts';
import { ConcurrencyExhaustedError, isConcurrencyConflict } from './errors.js';
import { type AppendResult, type EventStore } from './event-store.js';

/**
 * An aggregate as three pure functions (the emmett "decider"): no I/O, no clock, no ids
 * minted inside — whatever they need arrives in the command.
 */
export interface Decider<Command, State, E extends Event = Event> {
  initialState(): State;
  evolve(state: State, event: E): State;
  /** Returns the events the command causes; throws a domain error to refuse it. An empty list is a no-op. */
  decide(command: Command, state: State): readonly PendingEvent[];
}

/** Retry policy of {@link handleCommand}. */
export interface CommandHandlerOptions extends EventMetadata {
  /** Attempts before giving up with {@link ConcurrencyExhaustedError}. Default 10. */
  maxAttempts?: number;
  /** First backoff delay; doubles each attempt, with full jitter. Default 2 ms. */
  baseDelayMs?: number;
  /** Backoff ceiling. Default 250 ms. */
  maxDelayMs?: number;
  /** Randomness for jitter (injectable for tests). */
  random?: () => number;
}

/** What a handled command produced. */
export interface CommandResult<State> extends Partial<AppendResult> {
  /** State after the new events. */
  readonly state: State;
  /** How many load-decide-append rounds it took. */
  readonly attempts: number;
}

/**
 * Load → decide → append, retrying on concurrency conflicts: a writer that lost the race
 * reloads the aggregate and decides again on the fresh state, so no update is lost.
 */
export async function handleCommand<Command, State, E extends Event>(
  store: EventStore,
  decider: Decider<Command, State, E>,
  streamId: string,
  command: Command,
  options: CommandHandlerOptions = {},
): Promise<CommandResult<State>> {
  const maxAttempts = options.maxAttempts ?? 10;
  const baseDelayMs = options.baseDelayMs ?? 2;
  const maxDelayMs = options.maxDelayMs ?? 250;
  const random = options.random ?? Math.random;
  let lastConflict: unknown;

  for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
    const { events, position } = await store.readStream(streamId);
    const state = (events as E[]).reduce(
      (current, event) => decider.evolve(current, event),
      decider.initialState(),
    );
    const pending = decider.decide(command, state);
    if (pending.length === 0) return { state, attempts: attempt };
    try {
      const result = await store.append(streamId, pending, { ...options, expected: position });
      const next = (result.events as E[]).reduce((current, event) => decider.evolve(current, event), state);
      return { ...result, state: next, attempts: attempt };
    } catch (err) {
      if (!isConcurrencyConflict(err)) throw err;
      lastConflict = err;
      if (attempt < maxAttempts) {
        const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
        await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * ceiling)));
      }
    }
  }
  throw new ConcurrencyExhaustedError(streamId, maxAttempts, lastConflict);
}
