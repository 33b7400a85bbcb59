/**
 * A tiny aggregate and read model used by the event store's own tests: counters that are
 * incremented. Small enough to reason about, rich enough to race, replay and poison.
 */
import {
  defineEvent,
  EventRegistry,
  Streams,
  streamIdOf,
  type Event,
  type EventOf,
} from '@tessera/contracts';
import { z } from 'zod';
import { type EntityManager } from 'typeorm';
import { type Decider } from '../decider.js';
import { type Projection } from '../consumers/consumer.js';

export const CounterIncremented = defineEvent({
  type: 'billing.CounterIncremented',
  version: 2,
  data: z.object({ counterId: z.string().min(1), by: z.int().positive(), note: z.string() }),
});
export type CounterIncremented = EventOf<typeof CounterIncremented>;

/** The first version had no note; its upcaster fills one in. */
export const counterUpcasters = [
  {
    type: 'billing.CounterIncremented',
    fromVersion: 1,
    upcast: (data: unknown) => ({ ...(data as object), note: '' }),
  },
];

export const CounterReset = defineEvent({
  type: 'billing.CounterReset',
  version: 1,
  data: z.object({ counterId: z.string().min(1) }),
});

export const counterRegistry = new EventRegistry([CounterIncremented, CounterReset]);

export const counterStreamId = (counterId: string) => streamIdOf('billing', 'counter', counterId);

type CounterEvent = Event<
  'billing.CounterIncremented' | 'billing.CounterReset',
  { counterId: string; by?: number }
>;

export interface CounterState {
  total: number;
}

export type CounterCommand =
  { kind: 'increment'; counterId: string; by: number } | { kind: 'reset'; counterId: string };

export const counterDecider: Decider<CounterCommand, CounterState, CounterEvent> = {
  initialState: () => ({ total: 0 }),
  evolve: (state, event) =>
    event.type === 'billing.CounterReset' ? { total: 0 } : { total: state.total + (event.data.by ?? 0) },
  decide(command, state) {
    switch (command.kind) {
      case 'increment':
        return [CounterIncremented.create({ counterId: command.counterId, by: command.by, note: '' })];
      case 'reset':
        return state.total === 0 ? [] : [CounterReset.create({ counterId: command.counterId })];
      default: {
        const unhandled: never = command;
        throw new Error(`unhandled command ${JSON.stringify(unhandled)}`);
      }
    }
  },
};

/** DDL for the read model; tests run it in their own schema. */
export const counterTotalsDdl = `
  CREATE TABLE IF NOT EXISTS counter_totals (
    counter_id text PRIMARY KEY,
    total bigint NOT NULL,
    applied integer NOT NULL
  )`;

/** Counters whose id starts with this make the projection throw: a poison event. */
export const POISON_PREFIX = 'poison';

export function counterTotalsProjection(name = 'counter-totals'): Projection {
  return {
    name,
    stream: Streams.BILLING,
    filterSubject: 'billing.counter.>',
    handles: [CounterIncremented, CounterReset],
    // Folds the batch per counter in memory, then writes it with one statement: the way a
    // projection keeps up with thousands of events per second.
    async apply(events: readonly Event[], manager: EntityManager) {
      const byCounter = new Map<string, { reset: boolean; add: number; applied: number }>();
      for (const event of events) {
        const data = event.data as { counterId: string; by?: number };
        if (data.counterId.startsWith(POISON_PREFIX))
          throw new Error(`counter ${data.counterId} is poisoned`);
        const change = byCounter.get(data.counterId) ?? { reset: false, add: 0, applied: 0 };
        if (CounterReset.is(event)) {
          change.reset = true;
          change.add = 0;
        } else {
          change.add += data.by ?? 0;
        }
        change.applied += 1;
        byCounter.set(data.counterId, change);
      }
      const ids = [...byCounter.keys()];
      const changes = [...byCounter.values()];
      await manager.query(
        `INSERT INTO counter_totals (counter_id, total, applied)
         SELECT id, add, applied FROM unnest($1::text[], $2::bigint[], $3::int[]) AS batch(id, add, applied)
         ON CONFLICT (counter_id) DO UPDATE SET
           total = CASE WHEN (SELECT r FROM unnest($1::text[], $4::bool[]) AS f(i, r) WHERE i = excluded.counter_id)
                        THEN excluded.total ELSE counter_totals.total + excluded.total END,
           applied = counter_totals.applied + excluded.applied`,
        [ids, changes.map((c) => c.add), changes.map((c) => c.applied), changes.map((c) => c.reset)],
      );
    },
    async reset(manager: EntityManager) {
      await manager.query('DELETE FROM counter_totals');
    },
  };
}

/** A checksum over the whole read model, for comparing two builds. */
export async function counterTotalsChecksum(manager: EntityManager): Promise<string> {
  const [row] = (await manager.query(
    `SELECT md5(coalesce(string_agg(counter_id || ':' || total || ':' || applied, ',' ORDER BY counter_id), '')) AS sum,
            count(*)::int AS rows
       FROM counter_totals`,
  )) as { sum: string; rows: number }[];
  return `${row?.rows}:${row?.sum}`;
}
