import { uuidv7 } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_STREAM, type StreamPosition } from '../event-store.js';
import {
  CounterIncremented,
  counterStreamId,
  counterTotalsProjection,
} from '../__tests__/counter.fixture.js';
import { openHarness, type Harness } from '../__tests__/harness.fixture.js';
import { isUnavailable } from '../errors.js';
import { ConsumerRunner } from './consumer-runner.js';

// This file owns its servers so it can restart them without disturbing other files.
let h: Harness;
let runner: ConsumerRunner;
const positions = new Map<string, StreamPosition>();

beforeAll(async () => {
  h = await openHarness({ servers: { dedicatedNats: true, dedicatedPostgres: true } });
  runner = new ConsumerRunner({
    store: h.store,
    dataSource: h.dataSource,
    role: { kind: 'projection', projection: counterTotalsProjection() },
    batchSize: 20,
    lease: { ttlMs: 1_500 },
    retryDelayMs: { initial: 50, max: 500 },
  });
  await runner.start();
});
afterAll(async () => {
  await runner.stop();
  await h.close();
});

/** Appends `count` increments of 1 over three counters; retries while the server is coming back. */
async function appendIncrements(count: number): Promise<number> {
  let last = 0;
  for (let index = 0; index < count; index += 1) {
    const counterId = `f${index % 3}`;
    const streamId = counterStreamId(counterId);
    // Created once: a retry carries the same event id, so a publish that did land is deduplicated.
    const event = CounterIncremented.create({ counterId, by: 1, note: '' }, { id: uuidv7() });
    for (;;) {
      try {
        const result = await h.store.append(streamId, [event], {
          expected: positions.get(streamId) ?? NO_STREAM,
        });
        positions.set(streamId, result.position);
        last = result.position.sequence;
        break;
      } catch (err) {
        // A publish that failed while NATS restarted may still have landed: re-read the position.
        if (!isUnavailable(err)) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100));
        positions.set(streamId, await h.store.currentPosition(streamId));
      }
    }
  }
  return last;
}

async function applied(): Promise<number> {
  const [row] = (await h.dataSource.query(
    'SELECT coalesce(sum(applied), 0)::int AS n FROM counter_totals',
  )) as {
    n: number;
  }[];
  return row?.n ?? 0;
}

async function deadLetters(): Promise<number> {
  const [row] = (await h.dataSource.query('SELECT count(*)::int AS n FROM projection_dead_letters')) as {
    n: number;
  }[];
  return row?.n ?? 0;
}

describe('a projection under server outages', () => {
  it('keeps applying, with nothing lost or doubled, across a NATS restart', async () => {
    await runner.waitForSequence(await appendIncrements(60));
    await h.env.natsServer?.restart();
    const last = await appendIncrements(60);
    await runner.waitForSequence(last, 30_000);
    expect(await applied()).toBe(120);
  });

  it('an append while JetStream is down fails with a retryable UNAVAILABLE, and nothing is stored', async () => {
    await h.env.natsServer?.kill();
    let caught: unknown;
    try {
      await h.store.append(counterStreamId('during-outage'), [
        CounterIncremented.create({ counterId: 'during-outage', by: 1, note: '' }),
      ]);
    } catch (err) {
      caught = err;
    }
    expect(isUnavailable(caught)).toBe(true);
    await h.env.natsServer?.restart();
    // The client reconnects on its own schedule; keep reading until JetStream answers.
    let stored: unknown;
    for (let attempt = 0; attempt < 100 && stored === undefined; attempt += 1) {
      stored = await h.store.readStream(counterStreamId('during-outage')).catch((err: unknown) => {
        if (!isUnavailable(err)) throw err;
        return new Promise((resolve) => setTimeout(() => resolve(undefined), 200));
      });
    }
    expect(stored).toMatchObject({ events: [] });
  });

  it('keeps applying, with nothing lost, doubled or parked, across a Postgres outage longer than any ack wait', async () => {
    const before = await applied();
    await appendIncrements(30);
    await h.env.postgres?.kill();
    // Events keep arriving while the database is down; the runner retries the same batch.
    await appendIncrements(30);
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    await h.env.postgres?.restart();
    const last = await appendIncrements(30);
    await runner.waitForSequence(last, 30_000);
    // The fold (a running sum per counter) would show any event applied twice.
    expect(await applied()).toBe(before + 90);
    const [total] = (await h.dataSource.query('SELECT sum(total)::int AS n FROM counter_totals')) as {
      n: number;
    }[];
    expect(total?.n).toBe(before + 90);
    expect(await deadLetters()).toBe(0);
    expect(runner.health()).toMatchObject({ running: true, stalled: false });
  });
});
