import { uuidv7 } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_STREAM, type StreamPosition } from '../event-store.js';
import {
  CounterIncremented,
  counterStreamId,
  counterTotalsProjection,
} from '../__tests__/counter.fixture.js';
import { openHarness, type Harness } from '../__tests__/harness.fixture.js';
import { ProjectionRunner } from './projection-runner.js';

// This file owns its servers so it can restart them without disturbing other files.
let h: Harness;
let runner: ProjectionRunner;
const positions = new Map<string, StreamPosition>();

beforeAll(async () => {
  h = await openHarness({ servers: { dedicatedNats: true, dedicatedPostgres: true } });
  runner = new ProjectionRunner({
    store: h.store,
    dataSource: h.dataSource,
    projection: counterTotalsProjection(),
    batchSize: 20,
    logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
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
        // A publish that timed out while NATS restarted may still have landed: re-read the position.
        if (!(err instanceof Error) || /wrong last sequence|moved past/.test(err.message)) throw err;
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

describe('projection runner under server restarts', () => {
  it('keeps applying, with nothing lost or doubled, across a NATS restart', async () => {
    await runner.waitForSequence(await appendIncrements(60));
    await h.env.natsServer?.restart();
    const last = await appendIncrements(60);
    await runner.waitForSequence(last, 30_000);
    expect(await applied()).toBe(120);
  });

  it('keeps applying, with nothing lost or doubled, across a Postgres restart', async () => {
    const before = await applied();
    await appendIncrements(30);
    await h.env.postgres?.restart();
    const last = await appendIncrements(30);
    await runner.waitForSequence(last, 30_000);
    expect(await applied()).toBe(before + 60);
    expect(runner.health()).toMatchObject({ running: true, stalled: false });
  });
});
