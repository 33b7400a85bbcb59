import { type Event, type PendingEvent } from '@tessera/contracts';

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
