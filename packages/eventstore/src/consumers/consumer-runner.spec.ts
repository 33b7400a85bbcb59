import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ErrorCode, Streams, TesseraError, type Event } from '@tessera/contracts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type DataSource } from 'typeorm';
import { NO_STREAM } from '../event-store.js';
import {
  CounterIncremented,
  CounterReset,
  counterStreamId,
  counterTotalsChecksum,
  counterTotalsProjection,
} from '../__tests__/counter.fixture.js';
import { openDataSource, openHarness, type Harness } from '../__tests__/harness.fixture.js';
import { type Reactor } from './consumer.js';
import { ConsumerRunner, type ConsumerRunnerOptions } from './consumer-runner.js';

let h: Harness;
const runners: ConsumerRunner[] = [];
const extraDataSources: DataSource[] = [];

beforeAll(async () => {
  h = await openHarness();
  await h.dataSource.query(
    'CREATE TABLE IF NOT EXISTS reactions (event_id text PRIMARY KEY, counter_id text NOT NULL, times int NOT NULL)',
  );
});
afterEach(async () => {
  await Promise.all(runners.splice(0).map((runner) => runner.stop()));
  for (const table of ['counter_totals', 'projection_checkpoints', 'projection_dead_letters', 'reactions'])
    await h.dataSource.query(`DELETE FROM ${table}`);
  const jsm = await h.store.manager();
  await jsm.streams.purge(h.store.namespace.streamName(Streams.BILLING));
  positions.clear();
});
afterAll(async () => {
  await Promise.all(extraDataSources.map((dataSource) => dataSource.destroy()));
  await h.close();
});

function projectionRunner(
  options: { dataSource?: DataSource; name?: string } & Partial<ConsumerRunnerOptions> = {},
): ConsumerRunner {
  const created = new ConsumerRunner({
    store: h.store,
    dataSource: options.dataSource ?? h.dataSource,
    role: { kind: 'projection', projection: counterTotalsProjection(options.name) },
    batchSize: 100,
    lease: { ttlMs: 1_500 },
    retryDelayMs: { initial: 20, max: 200 },
    ...options,
  });
  runners.push(created);
  return created;
}

/** A reactor whose "command" records each reaction; `behaviour` decides what a counter's event does. */
function reactionRecorder(
  behaviour: (event: Event) => void = () => undefined,
  name = 'counter-reactions',
): Reactor {
  return {
    name,
    stream: Streams.BILLING,
    filterSubject: 'billing.counter.>',
    handles: [CounterIncremented],
    async react(events) {
      for (const event of events) {
        behaviour(event);
        await h.dataSource.query(
          `INSERT INTO reactions (event_id, counter_id, times) VALUES ($1, $2, 1)
           ON CONFLICT (event_id) DO UPDATE SET times = reactions.times + 1`,
          [event.id, (event.data as { counterId: string }).counterId],
        );
      }
    },
  };
}

function reactorRunner(reactor: Reactor, options: Partial<ConsumerRunnerOptions> = {}): ConsumerRunner {
  const created = new ConsumerRunner({
    store: h.store,
    dataSource: h.dataSource,
    role: { kind: 'reactor', reactor },
    batchSize: 50,
    lease: { ttlMs: 1_500 },
    retryDelayMs: { initial: 20, max: 200 },
    maxHealthyFailures: 3,
    ...options,
  });
  runners.push(created);
  return created;
}

const positions = new Map<string, { sequence: number; version: number }>();

/** Appends `count` increments spread over `counters` aggregates, one decision of `perCommit` events each; returns the last stream sequence. */
async function appendIncrements(count: number, counters = 7, perCommit = 1): Promise<number> {
  let last = 0;
  for (let index = 0; index < count; index += perCommit) {
    const counterId = `c${(index / perCommit) % counters}`;
    const streamId = counterStreamId(counterId);
    const events = Array.from({ length: Math.min(perCommit, count - index) }, (_, offset) =>
      CounterIncremented.create({ counterId, by: ((index + offset) % 5) + 1, note: '' }),
    );
    const result = await h.store.append(streamId, events, { expected: positions.get(streamId) ?? NO_STREAM });
    positions.set(streamId, result.position);
    last = result.position.sequence;
  }
  return last;
}

async function sums(dataSource: DataSource = h.dataSource): Promise<{ total: number; applied: number }> {
  const [row] = (await dataSource.query(
    'SELECT coalesce(sum(total), 0)::int AS total, coalesce(sum(applied), 0)::int AS applied FROM counter_totals',
  )) as { total: number; applied: number }[];
  return row ?? { total: 0, applied: 0 };
}

async function otherSchema(): Promise<DataSource> {
  const schema = `${h.env.schema}_b${extraDataSources.length}`;
  await h.dataSource.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  const dataSource = await openDataSource(h.env.databaseUrl, schema);
  extraDataSources.push(dataSource);
  return dataSource;
}

interface Child {
  exited: Promise<{ signal: NodeJS.Signals | null; output: string }>;
  /** Resolves when the child printed `line`. */
  printed(line: string): Promise<void>;
}

function startChild(env: Record<string, string>): Child {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('../__tests__/crash-runner.child.ts', import.meta.url))],
    {
      env: {
        ...process.env,
        NATS_URL: h.env.natsUrl,
        DATABASE_URL: h.env.databaseUrl,
        SCHEMA: h.env.schema,
        NAMESPACE: h.env.namespace,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const listeners: (() => void)[] = [];
  const collect = (chunk: Buffer): void => {
    output += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  return {
    exited: new Promise((resolve) => child.on('exit', (_code, signal) => resolve({ signal, output }))),
    printed: (line) =>
      new Promise((resolve) => {
        const check = (): void => {
          if (output.includes(line)) resolve();
        };
        listeners.push(check);
        check();
      }),
  };
}

const runChild = (env: Record<string, string>) => startChild(env).exited;

describe('a projection', () => {
  it('applies every event, of one-event and of multi-event commits, and commits the checkpoint with the rows', async () => {
    await appendIncrements(100);
    const last = await appendIncrements(100, 7, 4);
    const projection = projectionRunner();
    await projection.start();
    await projection.waitUntilCaughtUp();
    // by cycles 1..5: 40 × 15 over each run of 100
    expect(await sums()).toEqual({ total: 600, applied: 200 });
    expect(await projection.storedCheckpoint()).toBe(last);
    expect(projection.health()).toMatchObject({
      running: true,
      active: true,
      stalled: false,
      checkpoint: last,
    });
  });

  it('re-publishing every stored commit adds no stream entries and no rows', async () => {
    const streamId = counterStreamId('republished');
    const events = Array.from({ length: 10 }, () =>
      CounterIncremented.create({ counterId: 'republished', by: 1, note: '' }),
    );
    const appended = await h.store.append(streamId, events, { expected: NO_STREAM });
    const again = await h.store.append(
      streamId,
      appended.events.map((event) => ({ ...event, id: event.id })),
      { expected: NO_STREAM },
    );
    expect(again.duplicate).toBe(true);
    const projection = projectionRunner();
    await projection.start();
    const marker = await h.store.append(streamId, [CounterReset.create({ counterId: 'republished' })], {
      expected: appended.position,
    });
    await projection.waitForSequence(marker.position.sequence);
    expect(await h.store.lastSequence(Streams.BILLING)).toBe(marker.position.sequence);
    const [row] = (await h.dataSource.query('SELECT applied FROM counter_totals')) as { applied: number }[];
    expect(row?.applied).toBe(11);
  });

  it('reads messages the previous release stored one envelope at a time', async () => {
    const envelope = {
      id: '01936b2e-0000-7000-8000-0000000000b1',
      type: 'billing.CounterIncremented',
      version: 1,
      streamId: counterStreamId('legacy'),
      sequence: 1,
      occurredAt: '2025-01-01T00:00:00.000Z',
      correlationId: 'c',
      causationId: null,
      traceparent: null,
      actor: 'service:legacy',
      data: { counterId: 'legacy', by: 5 },
    };
    await h.store.jetstream.publish(h.store.namespace.subject(envelope.streamId), JSON.stringify(envelope));
    const projection = projectionRunner();
    await projection.start();
    await projection.waitUntilCaughtUp();
    expect(await sums()).toEqual({ total: 5, applied: 1 });
  });

  it('parks exactly the poison events, applies the ones after them, and replays them after a fix', async () => {
    const subject = h.store.namespace.subject(counterStreamId('bad'));
    await h.store.jetstream.publish(subject, 'this is not json');
    await h.store.jetstream.publish(
      subject,
      JSON.stringify({
        commit: 1,
        events: [
          {
            id: '01936b2e-0000-7000-8000-00000000bad1',
            type: 'billing.CounterIncremented',
            version: 2,
            data: {},
          },
        ],
      }),
    );
    const poisoned = await h.store.append(counterStreamId('poison-1'), [
      CounterIncremented.create({ counterId: 'poison-1', by: 1, note: '' }),
    ]);
    await appendIncrements(20);
    const projection = projectionRunner({ maxHealthyFailures: 2 });
    await projection.start();
    await projection.waitUntilCaughtUp();

    const parked = await projection.deadLetters();
    expect(parked.map((letter) => [letter.errorCode, letter.eventType])).toEqual([
      ['VALIDATION_FAILED', null],
      ['VALIDATION_FAILED', null],
      ['INTERNAL', 'billing.CounterIncremented'],
    ]);
    expect(parked[2]?.reason).toMatch(/poison-1 is poisoned/);
    expect(parked[2]?.eventId).toBe(poisoned.events[0]?.id);
    expect((await sums()).applied).toBe(20);

    // The operator fixes nothing for the undecodable ones; replaying them fails again and they stay.
    const outcome = await projection.replayDeadLetters([parked[0]?.id ?? '']);
    expect(outcome).toMatchObject({
      replayed: [],
      failed: [{ id: parked[0]?.id, errorCode: 'VALIDATION_FAILED' }],
    });
    expect((await projection.deadLetters())[0]).toMatchObject({ attempts: 2 });
  });

  it('a rebuild from sequence 1 gives identical tables, twice', async () => {
    const last = await appendIncrements(300, 7, 3);
    const projection = projectionRunner();
    await projection.start();
    await projection.waitForSequence(last);
    const original = await counterTotalsChecksum(h.dataSource.manager);
    await projection.rebuild();
    await projection.waitForSequence(last);
    const first = await counterTotalsChecksum(h.dataSource.manager);
    await projection.rebuild();
    await projection.waitForSequence(last);
    expect(first).toBe(original);
    expect(await counterTotalsChecksum(h.dataSource.manager)).toBe(original);
    expect(original).toMatch(/^7:/);
  });

  it('a runner killed between apply and commit resumes to rows identical to an uninterrupted run', async () => {
    const last = await appendIncrements(400);
    const { signal, output } = await runChild({ BATCH_SIZE: '50', DIE_IN_BATCH: '3' });
    expect(signal, output).toBe('SIGKILL');
    expect(output).toContain('dying before commit');
    // Two batches committed before the crash; the third died with its transaction.
    const committed = await h.dataSource.query('SELECT sequence FROM projection_checkpoints');
    expect(Number((committed as { sequence: string }[])[0]?.sequence)).toBeLessThan(last);

    const resumed = projectionRunner({ batchSize: 50 });
    await resumed.start();
    await resumed.waitForSequence(last, 30_000);
    const reference = await otherSchema();
    const uninterrupted = projectionRunner({ dataSource: reference, name: 'counter-totals-reference' });
    await uninterrupted.start();
    await uninterrupted.waitForSequence(last);
    expect(await counterTotalsChecksum(h.dataSource.manager)).toBe(
      await counterTotalsChecksum(reference.manager),
    );
  });

  it('a runner dying in its last batch, with nothing else pending, committed nothing; the next one applies it all', async () => {
    const last = await appendIncrements(30);
    // One batch takes every message: the first batch is also the last.
    const { signal, output } = await runChild({ BATCH_SIZE: '500', DIE_IN_BATCH: '1' });
    expect(signal, output).toBe('SIGKILL');
    const checker = projectionRunner({ lease: false });
    expect(await checker.storedCheckpoint()).toBe(0);
    expect(await sums()).toEqual({ total: 0, applied: 0 });
    await expect(checker.waitForSequence(last, 300)).rejects.toThrow(/did not reach/);
    await checker.start();
    await checker.waitForSequence(last);
    expect((await sums()).applied).toBe(30);
  });

  it('only the lease holder applies; when it is killed -9 a standby takes over with nothing lost or doubled', async () => {
    const first = await appendIncrements(200);
    const holder = startChild({
      BATCH_SIZE: '20',
      LEASE_TTL_MS: '1500',
      SLOW_MS: '20',
      DIE_AT_SEQUENCE: String(first - 60),
    });
    await holder.printed('active');
    const standby = projectionRunner({ batchSize: 20 });
    await standby.start();
    // Standing by while the child holds the lease: it applies nothing.
    expect(standby.health().active).toBe(false);
    const { signal, output } = await holder.exited;
    expect(signal, output).toBe('SIGKILL');
    const last = await appendIncrements(100);
    await standby.waitForSequence(last, 30_000);
    expect(standby.health().active).toBe(true);
    const reference = await otherSchema();
    const uninterrupted = projectionRunner({ dataSource: reference, name: 'counter-totals-reference' });
    await uninterrupted.start();
    await uninterrupted.waitForSequence(last);
    expect(await counterTotalsChecksum(h.dataSource.manager)).toBe(
      await counterTotalsChecksum(reference.manager),
    );
    expect((await sums()).applied).toBe(300);
  });
});

describe('a reactor', () => {
  it('reacts to every event once, in order, and skips types it does not handle', async () => {
    const order: number[] = [];
    await appendIncrements(40, 4, 2);
    const reset = await h.store.append(counterStreamId('c0'), [CounterReset.create({ counterId: 'c0' })]);
    const reactor = reactorRunner(reactionRecorder((event) => order.push(event.sequence)));
    await reactor.start();
    await reactor.waitForSequence(reset.position.sequence);
    const [row] = (await h.dataSource.query(
      'SELECT count(*)::int AS n, max(times)::int AS most FROM reactions',
    )) as { n: number; most: number }[];
    expect(row).toEqual({ n: 40, most: 1 });
    expect(order).toHaveLength(40);
  });

  it('retries transient failures without moving the checkpoint or parking anything', async () => {
    const last = await appendIncrements(10);
    let failures = 0;
    const reactor = reactorRunner(
      reactionRecorder(() => {
        if (failures < 4) {
          failures += 1;
          throw new TesseraError(ErrorCode.Unavailable, 'billing is restarting');
        }
      }),
    );
    await reactor.start();
    await reactor.waitForSequence(last);
    expect(failures).toBe(4);
    expect(await reactor.deadLetters()).toEqual([]);
    const [row] = (await h.dataSource.query('SELECT count(*)::int AS n FROM reactions')) as { n: number }[];
    expect(row?.n).toBe(10);
  });

  it('parks a refused event at once and an event failing for an unknown reason after it failed while healthy; replays them after the fix', async () => {
    let fixed = false;
    const refused = await h.store.append(counterStreamId('refused'), [
      CounterIncremented.create({ counterId: 'refused', by: 1, note: '' }),
    ]);
    const buggy = await h.store.append(counterStreamId('buggy'), [
      CounterIncremented.create({ counterId: 'buggy', by: 1, note: '' }),
    ]);
    const last = await appendIncrements(5);
    const reactor = reactorRunner(
      reactionRecorder((event) => {
        const counterId = (event.data as { counterId: string }).counterId;
        if (fixed) return;
        if (counterId === 'refused') throw new TesseraError('billing.UNKNOWN_PRICE', 'no price for model x');
        if (counterId === 'buggy') throw new TypeError("cannot read properties of undefined (reading 'x')");
      }),
    );
    await reactor.start();
    await reactor.waitForSequence(last);
    const parked = await reactor.deadLetters();
    expect(parked.map((letter) => [letter.eventId, letter.errorCode])).toEqual([
      [refused.events[0]?.id, 'billing.UNKNOWN_PRICE'],
      [buggy.events[0]?.id, 'INTERNAL'],
    ]);
    const [before] = (await h.dataSource.query('SELECT count(*)::int AS n FROM reactions')) as {
      n: number;
    }[];
    expect(before?.n).toBe(5);

    fixed = true;
    const outcome = await reactor.replayDeadLetters();
    expect(outcome.replayed).toHaveLength(2);
    expect(await reactor.deadLetters()).toEqual([]);
    const [after] = (await h.dataSource.query('SELECT count(*)::int AS n FROM reactions')) as { n: number }[];
    expect(after?.n).toBe(7);
  });
});
