import { Streams } from '@tessera/contracts';
import { uuidv7 } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUnavailable } from '../errors.js';
import { NO_STREAM, type StreamPosition } from '../event-store.js';
import {
  CounterIncremented,
  counterStreamId,
  counterTotalsProjection,
} from '../__tests__/counter.fixture.js';
import { openHarness, type Harness } from '../__tests__/harness.fixture.js';
import { ConsumerRunner } from './consumer-runner.js';

// Three nats-server processes, as the deployment runs them, and streams with three replicas.
let h: Harness;
let runner: ConsumerRunner;

beforeAll(async () => {
  h = await openHarness({ servers: { natsCluster: 3, dedicatedPostgres: true }, streamReplicas: 3 });
  runner = new ConsumerRunner({
    store: h.store,
    dataSource: h.dataSource,
    role: { kind: 'projection', projection: counterTotalsProjection() },
    batchSize: 20,
    lease: { ttlMs: 1_500 },
    retryDelayMs: { initial: 50, max: 500 },
  });
  await runner.start();
}, 120_000);
afterAll(async () => {
  await runner.stop();
  await h.close();
});

interface Load {
  /** Increments acknowledged by JetStream, per counter. */
  acked: Map<string, number>;
  /** Milliseconds from each leader kill to the next acknowledged append. */
  failovers: number[];
}

/**
 * Appends `count` increments of 1 over `counters` aggregates from `writers` concurrent writers,
 * like replicas of a service: an append that fails with UNAVAILABLE (no stream leader) is
 * retried with the same event id, so one that did land is deduplicated, after re-reading the
 * position in case it landed.
 */
async function load(
  count: number,
  counters: number,
  writers: number,
  during: (acked: number) => Promise<boolean>,
  loadState: Load,
): Promise<void> {
  const positions = new Map<string, StreamPosition>();
  let next = 0;
  let ackedTotal = 0;
  let killedAt: number | undefined;
  const writer = async (): Promise<void> => {
    for (;;) {
      const index = next;
      next += 1;
      if (index >= count) return;
      const counterId = `k${index % counters}`;
      const streamId = counterStreamId(counterId);
      const event = CounterIncremented.create({ counterId, by: 1, note: '' }, { id: uuidv7() });
      for (;;) {
        try {
          const result = await h.store.append(streamId, [event], {
            expected: positions.get(streamId) ?? NO_STREAM,
          });
          positions.set(streamId, result.position);
          break;
        } catch (err) {
          if (isUnavailable(err)) {
            await new Promise((resolve) => setTimeout(resolve, 100));
          } else if (!(err instanceof Error && err.name === 'ConcurrencyConflictError')) {
            throw err;
          }
          positions.set(streamId, await currentPosition(streamId));
        }
      }
      loadState.acked.set(counterId, (loadState.acked.get(counterId) ?? 0) + 1);
      ackedTotal += 1;
      if (killedAt !== undefined) {
        loadState.failovers.push(Date.now() - killedAt);
        killedAt = undefined;
      }
      if (await during(ackedTotal)) killedAt = Date.now();
    }
  };
  await Promise.all(Array.from({ length: writers }, () => writer()));
}

async function currentPosition(streamId: string): Promise<StreamPosition> {
  for (;;) {
    try {
      return await h.store.currentPosition(streamId);
    } catch (err) {
      if (!isUnavailable(err)) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** How many events a counter's stream holds, as its leader knows it (a read retried while no leader answers). */
async function storedEvents(counterId: string): Promise<number> {
  for (;;) {
    try {
      return (await h.store.readStream(counterStreamId(counterId))).events.length;
    } catch (err) {
      if (!isUnavailable(err)) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

describe('a projection on a 3-node JetStream cluster', () => {
  it('killing the stream leader mid-load loses no event: the projection equals the stream', async () => {
    const streamName = h.store.namespace.streamName(Streams.BILLING);
    const cluster = h.env.natsCluster;
    if (!cluster) throw new Error('no cluster');
    const loadState: Load = { acked: new Map(), failovers: [] };
    const killed: Promise<void>[] = [];
    let kills = 0;
    await load(
      300,
      6,
      4,
      async (acked) => {
        // Kill whichever node leads the stream, twice, each at a moment writes are in flight.
        if ((acked === 80 || acked === 190) && kills < 2) {
          kills += 1;
          const leader = await cluster.streamLeader(streamName);
          await leader.kill();
          // It comes back a few seconds later, as a restarted pod would.
          killed.push(new Promise((resolve) => setTimeout(resolve, 3_000)).then(() => leader.restart()));
          return true;
        }
        return false;
      },
      loadState,
    );
    await Promise.all(killed);
    expect(kills).toBe(2);

    await runner.waitUntilCaughtUp(60_000);
    const rows = (await h.dataSource.query(
      'SELECT counter_id, total::int AS total, applied FROM counter_totals',
    )) as {
      counter_id: string;
      total: number;
      applied: number;
    }[];
    const projected = new Map(rows.map((row) => [row.counter_id, row]));
    for (let counter = 0; counter < 6; counter += 1) {
      const counterId = `k${counter}`;
      const stored = await storedEvents(counterId);
      // Every acknowledged write is in the stream once, and the projection applied each once.
      expect(stored, counterId).toBe(loadState.acked.get(counterId));
      expect(projected.get(counterId), counterId).toEqual({
        counter_id: counterId,
        total: stored,
        applied: stored,
      });
    }
    const [parked] = (await h.dataSource.query('SELECT count(*)::int AS n FROM projection_dead_letters')) as {
      n: number;
    }[];
    expect(parked?.n).toBe(0);
    // The failover windows, for the record (not asserted: the machine is shared).
    console.log(
      `failover windows (kill → next ack): ${loadState.failovers.map((ms) => `${ms} ms`).join(', ')}`,
    );
  }, 180_000);
});
