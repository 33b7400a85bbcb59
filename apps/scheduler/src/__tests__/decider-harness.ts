import { type Event, type PendingEvent } from '@tessera/contracts';
import { type Decider } from '@tessera/eventstore';

/**
 * Runs a decider the way the event store does (decide, then evolve each stored event), with
 * envelopes made up in memory: given / when / then for pure domain tests.
 */
export function deciderHarness<Command, State>(decider: Decider<Command, State>, streamId: string) {
  let state = decider.initialState();
  let sequence = 0;
  let clock = Date.parse('2026-01-01T00:00:00.000Z');
  const envelope = (pending: PendingEvent): Event => ({
    id: `00000000-0000-7000-8000-${String(++sequence).padStart(12, '0')}`,
    type: pending.type,
    version: pending.version,
    streamId,
    sequence,
    occurredAt: new Date((clock += 1_000)).toISOString(),
    correlationId: 'test',
    causationId: null,
    traceparent: null,
    actor: 'service:test',
    data: pending.data,
  });
  return {
    get state(): State {
      return state;
    },
    /** Decides and applies; returns the new events. */
    when(command: Command): Event[] {
      const events = decider.decide(command, state).map(envelope);
      for (const event of events) state = decider.evolve(state, event);
      return events;
    },
  };
}
