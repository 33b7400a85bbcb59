/**
 * `npm run bench:eventstore` — not a test. Measures, in one run on this machine:
 *  1. append throughput of EventStore.append against the raw @nats-io/jetstream client doing the
 *     same job by hand (a UUIDv7 envelope of the same shape, `Nats-Msg-Id`, expected last subject
 *     sequence, same requests in flight), in interleaved rounds; the median ratio is reported;
 *  2. projection apply rate (events/s from a backlog into Postgres);
 *  3. publish → projected lag p50/p99 at a fixed offered rate.
 * Prints a table and writes bench/results/eventstore.json at the repository root.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Streams } from '@tessera/contracts';
import { startNatsServer, startPostgres } from '@tessera/devservers';
import { connect } from '@nats-io/transport-node';
import { v7 as uuidv7 } from 'uuid';
import { DataSource } from 'typeorm';
import {
  EventStore,
  NO_STREAM,
  ConsumerRunner,
  eventStoreMigrations,
  type StreamPosition,
} from '../src/index.js';
import {
  CounterIncremented,
  counterRegistry,
  counterStreamId,
  counterTotalsDdl,
  counterTotalsProjection,
} from '../src/__tests__/counter.fixture.js';

const APPEND_EVENTS = 20_000;
const APPEND_ROUNDS = 6;
const AGGREGATES = 500;
const IN_FLIGHT = 250; // divides AGGREGATES: one writer per aggregate
const LAG_RATE_PER_SECOND = 1_000;
const LAG_SECONDS = 10;

const nats = await startNatsServer();
const postgres = await startPostgres();
const nc = await connect({ servers: nats.url, noAsyncTraces: true });
const store = new EventStore({ connection: nc, registry: counterRegistry, defaultActor: 'service:bench' });
await store.ensureStreams([Streams.BILLING, Streams.SCORING]);

/**
 * Runs `total` operations with `workers` in flight; operation i always runs on worker
 * i % workers, so with aggregates chosen as i % (k × workers) each aggregate has one writer and
 * appends carry a real expected position without conflicts — a partitioned writer's pattern.
 * Returns operations per second.
 */
async function throughput(
  total: number,
  workers: number,
  operation: (index: number) => Promise<unknown>,
): Promise<number> {
  const started = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (let index = worker; index < total; index += workers) await operation(index);
    }),
  );
  return total / ((performance.now() - started) / 1000);
}

const positions = new Map<string, StreamPosition>();
/** Appends one increment to counter `<prefix><index % aggregates>`; returns its stream sequence. */
async function appendIncrement(prefix: string, index: number): Promise<number> {
  const counterId = `${prefix}${index % AGGREGATES}`;
  const streamId = counterStreamId(counterId);
  const result = await store.append(
    streamId,
    [CounterIncremented.create({ counterId, by: 1, note: 'bench' })],
    {
      expected: positions.get(streamId) ?? NO_STREAM,
    },
  );
  positions.set(streamId, result.position);
  return result.position.sequence;
}

// 1. Append throughput, store and raw client in alternating rounds so machine noise hits both.
const rawSequences = new Map<string, number>();
async function rawPublish(round: number, index: number): Promise<void> {
  const subject = `scoring.raw${round}.a${index % AGGREGATES}`;
  const id = uuidv7();
  // The same body the event store writes: a one-event commit.
  const envelope = JSON.stringify({
    commit: 1,
    events: [
      {
        id,
        type: 'billing.CounterIncremented',
        version: 2,
        streamId: subject,
        sequence: 1,
        occurredAt: new Date().toISOString(),
        correlationId: id,
        causationId: null,
        traceparent: null,
        actor: 'service:bench',
        data: { counterId: `a${index % AGGREGATES}`, by: 1, note: 'bench' },
      },
    ],
  });
  const ack = await store.jetstream.publish(subject, envelope, {
    msgID: id,
    expect: { lastSubjectSequence: rawSequences.get(subject) ?? 0 },
  });
  rawSequences.set(subject, ack.seq);
}
const rounds: { store: number; raw: number; ratio: number }[] = [];
for (let round = 0; round < APPEND_ROUNDS; round += 1) {
  // Alternate which side goes first, so warm-up and garbage left by the other side cancel out.
  const runRaw = () => throughput(APPEND_EVENTS, IN_FLIGHT, (index) => rawPublish(round, index));
  const runStore = () =>
    throughput(APPEND_EVENTS, IN_FLIGHT, (index) => appendIncrement(`a${round}x`, index));
  let raw: number;
  let appended: number;
  if (round % 2 === 0) {
    raw = await runRaw();
    appended = await runStore();
  } else {
    appended = await runStore();
    raw = await runRaw();
  }
  rounds.push({ store: appended, raw, ratio: appended / raw });
}
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
const appendRate = median(rounds.map((round) => round.store));
const rawRate = median(rounds.map((round) => round.raw));
const appendRatio = median(rounds.map((round) => round.ratio));

// 2. Projection apply rate from a backlog.
const dataSource = new DataSource({
  type: 'postgres',
  url: postgres.url,
  migrations: eventStoreMigrations,
  migrationsRun: true,
});
await dataSource.initialize();
await dataSource.query(counterTotalsDdl);
// The backlog is every counter event appended above: the runner starts from sequence 1.
const jsm = await store.manager();
const backlog = (await jsm.streams.info(Streams.BILLING.name)).state;
const lastSequence = backlog.last_seq;
const runner = new ConsumerRunner({
  store,
  dataSource,
  role: { kind: 'projection', projection: counterTotalsProjection() },
  batchSize: 1000,
});
const applyStarted = performance.now();
await runner.start();
await runner.waitForSequence(lastSequence, 300_000);
const applyRate = backlog.messages / ((performance.now() - applyStarted) / 1000);

// 3. Lag at a fixed offered rate, the runner live.
const lags: number[] = [];
const pending: Promise<void>[] = [];
const interval = 10;
const perTick = (LAG_RATE_PER_SECOND * interval) / 1000;
const ticks = (LAG_SECONDS * 1000) / interval;
const lagStarted = performance.now();
for (let tick = 0; tick < ticks; tick += 1) {
  const due = lagStarted + tick * interval;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  for (let slot = 0; slot < perTick; slot += 1) {
    const counterId = `l${tick * perTick + slot}`;
    const sent = performance.now();
    pending.push(
      store
        .append(counterStreamId(counterId), [CounterIncremented.create({ counterId, by: 1, note: 'lag' })], {
          expected: NO_STREAM,
        })
        .then((result) => runner.waitForSequence(result.position.sequence, 60_000))
        .then(() => {
          lags.push(performance.now() - sent);
        }),
    );
  }
}
await Promise.all(pending);
const offeredRate = (ticks * perTick) / ((performance.now() - lagStarted) / 1000);
lags.sort((a, b) => a - b);
const percentile = (p: number) =>
  lags[Math.min(lags.length - 1, Math.floor((p / 100) * lags.length))] ?? Number.NaN;

await runner.stop();
await dataSource.destroy();
await nc.drain();
await Promise.all([nats.stop(), postgres.stop()]);

const results = {
  benchmark: 'eventstore',
  measuredAt: new Date().toISOString(),
  machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
  append: {
    events: APPEND_EVENTS,
    inFlight: IN_FLIGHT,
    eventStorePerSecond: Math.round(appendRate),
    rawJetStreamPerSecond: Math.round(rawRate),
    ratio: Number(appendRatio.toFixed(3)),
    rounds: rounds.map((round) => ({
      store: Math.round(round.store),
      raw: Math.round(round.raw),
      ratio: Number(round.ratio.toFixed(3)),
    })),
    target: '>= 0.8',
  },
  projection: { events: backlog.messages, appliedPerSecond: Math.round(applyRate), target: '>= 5000' },
  lag: {
    offeredPerSecond: Math.round(offeredRate),
    events: lags.length,
    p50Ms: Number(percentile(50).toFixed(1)),
    p99Ms: Number(percentile(99).toFixed(1)),
    target: 'p99 <= 250 ms at 1000 events/s',
  },
};

console.table({
  'append (EventStore)': { value: results.append.eventStorePerSecond, unit: 'events/s' },
  'append (raw JetStream)': { value: results.append.rawJetStreamPerSecond, unit: 'events/s' },
  'append ratio': { value: results.append.ratio, unit: '× raw (target ≥ 0.8)' },
  'projection apply': { value: results.projection.appliedPerSecond, unit: 'events/s (target ≥ 5000)' },
  'lag p50': { value: results.lag.p50Ms, unit: `ms at ${results.lag.offeredPerSecond}/s` },
  'lag p99': { value: results.lag.p99Ms, unit: 'ms (target ≤ 250)' },
});
const resultsDir = fileURLToPath(new URL('../../../bench/results/', import.meta.url));
mkdirSync(resultsDir, { recursive: true });
writeFileSync(`${resultsDir}eventstore.json`, `${JSON.stringify(results, null, 2)}\n`);
console.log(`wrote ${resultsDir}eventstore.json`);
