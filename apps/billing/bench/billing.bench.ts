/**
 * `npm run bench:billing` — not a test. Against a real NATS and Postgres started here, with the
 * billing service running in this process (the built dist/: tsx emits no decorator metadata):
 *
 *  1. `grantCredit` round trip over NATS request/reply, one call at a time: p50 / p99, against a
 *     bare NATS responder that makes the one durable JetStream append a grant needs and replies.
 *  2. Postings per second: operator credits (one posting each) on 200 accounts, 256 in flight,
 *     through the account aggregate, against raw JetStream publishes of as many events with
 *     `Nats-Msg-Id` and an expected subject sequence.
 *  Subject and baseline run in alternating rounds (which goes first alternates too), and every
 *  round starts with billing's projections idle (caught up), so neither side pays for the other's
 *  backlog on the same two cores.
 *  3. Cold load of one account holding 1,000,000 charges: with snapshots (what billing runs: the
 *     `AggregateCache` reading the snapshot and the events after it) and, printed beside it,
 *     without (every commit read, decoded and evolved). The charges are written straight to
 *     JetStream as commits of 100 `billing.UsageCharged` events each, built with the real
 *     contracts (every event passes `UsageCharged.create`), occurring over 70 days, so the 7-day
 *     retention window keeps the last tenth of their idempotency keys; in a namespace no billing
 *     consumer reads.
 *
 * Writes bench/results/billing.json at the repository root.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { headers as natsHeaders, connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { v7 as uuidv7 } from 'uuid';
import {
  AccountOpened,
  AccountCredited,
  CreditAccount,
  EventRegistry,
  GrantCredit,
  OpenAccount,
  PlatformLedgerAccount,
  Streams,
  UsageCharged,
  customerLedgerAccount,
  eventContracts,
  streamIdOf,
  type Event,
  type EventEnvelope,
  type PendingEvent,
} from '@tessera/contracts';
import { startNatsServer, startPostgres } from '@tessera/devservers';
import {
  AggregateCache,
  EVENT_TYPES_HEADER,
  EventStore,
  SnapshotStore,
  encodeCommit,
  envelopesIn,
} from '@tessera/eventstore';
import { createApp } from '@tessera/platform';
import { ProjectionHost, RpcClient } from '@tessera/platform/messaging';
import { BillingModule } from '../dist/app.module.js';
import { AccountService } from '../dist/accounts/account.service.js';
import { createAccountDecider } from '../dist/accounts/account.decider.js';
import {
  ACCOUNT_SNAPSHOT_VERSION,
  decodeAccountState,
  encodeAccountState,
  type AccountState,
} from '../dist/accounts/account.state.js';

const ACCOUNTS = 200;
const POSTINGS_PER_ROUND = 10_000;
const IN_FLIGHT = 256;
const GRANT_CALLS_PER_ROUND = 500;
const ROUNDS = 4;
const COLD_CHARGES = 1_000_000;
const EVENTS_PER_COMMIT = 100;
const COLD_SPAN_DAYS = 70;
const RETENTION_MS = 7 * 24 * 3_600_000;
const COLD_LOADS = 5;

const nats = await startNatsServer();
const postgres = await startPostgres({ fastUnsafe: true });
const silent = new Writable({ write: (_chunk, _encoding, done) => done() });
const app = await createApp(
  BillingModule.forRoot({
    env: {
      SERVICE_NAME: 'billing',
      NODE_ENV: 'test',
      NATS_URL: nats.url,
      DATABASE_URL: postgres.url,
      DATABASE_SCHEMA: 'billing',
      HTTP_PORT: '0',
      LOG_LEVEL: 'warn',
      API_KEY_PEPPER: 'bench-pepper-0123456789',
      DEPOSIT_SEED: '//BenchSeed',
    },
    logging: { destination: silent },
  }),
  { logger: false },
);
const nc = await connect({ servers: nats.url, noAsyncTraces: true });
const rpc = new RpcClient(nc);
const accounts = app.get(AccountService);
const host = app.get(ProjectionHost);
const billingStore = app.get(EventStore);
// The streams billing reads (CHAIN, INFERENCE) belong to other services; here nobody else makes them.
await billingStore.ensureStreams();

/** Billing's consumers have nothing left to do (each checkpoint at its stream's end). */
async function projectionsIdle(): Promise<void> {
  for (;;) {
    const heads = await Promise.all(
      host.all().map((runner) => billingStore.lastSequence(runner.definition.stream)),
    );
    await Promise.all(host.all().map((runner) => runner.waitUntilCaughtUp(600_000)));
    const after = await Promise.all(
      host.all().map((runner) => billingStore.lastSequence(runner.definition.stream)),
    );
    if (heads.join() === after.join()) return;
  }
}

const ids = Array.from({ length: ACCOUNTS }, (_, i) => `bench-${i}`);
for (const accountId of ids) {
  await rpc.call(OpenAccount, { accountId, name: accountId });
  await rpc.call(CreditAccount, { accountId, idempotencyKey: 'seed', amount: '1000000000000000' });
}

// Baselines: a bare responder making one durable append per request; raw appends.
const responder = await connect({ servers: nats.url, noAsyncTraces: true });
const js = jetstream(responder);
await (await jetstreamManager(responder)).streams.add({ name: 'BENCH_BASELINE', subjects: ['baseline.>'] });
let baselineSequence = 0;
responder.subscribe('bench-baseline.grant', {
  callback: (_err, msg) => {
    void js
      .publish('baseline.account.a', msg.data, {
        msgID: uuidv7(),
        expect: { lastSubjectSequence: baselineSequence },
      })
      .then((ack) => {
        baselineSequence = ack.seq;
        msg.respond('{"ok":true}');
      });
  },
});

let grantKey = 0;
async function grantRound(): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < GRANT_CALLS_PER_ROUND; i += 1) {
    const t0 = performance.now();
    await rpc.call(GrantCredit, {
      accountId: ids[i % ACCOUNTS] as string,
      holder: 'bench',
      requested: '1000',
      idempotencyKey: `bench-${(grantKey += 1)}`,
    });
    latencies.push(performance.now() - t0);
  }
  return latencies;
}
async function baselineGrantRound(): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < GRANT_CALLS_PER_ROUND; i += 1) {
    const t0 = performance.now();
    await nc.request(
      'bench-baseline.grant',
      JSON.stringify({ accountId: ids[i % ACCOUNTS], requested: '1000' }),
    );
    latencies.push(performance.now() - t0);
  }
  return latencies;
}
let postingKey = 0;
async function postingsRound(): Promise<number> {
  const started = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async (_, worker) => {
      for (let i = worker; i < POSTINGS_PER_ROUND; i += IN_FLIGHT) {
        await accounts.execute(
          {
            kind: 'credit',
            accountId: ids[i % ACCOUNTS] as string,
            idempotencyKey: `p-${(postingKey += 1)}`,
            amount: 1_000n,
            reason: 'bench',
          },
          'operator:bench',
        );
      }
    }),
  );
  return POSTINGS_PER_ROUND / ((performance.now() - started) / 1000);
}
const rawSequences = new Map<string, number>();
async function rawRound(): Promise<number> {
  const started = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async (_, worker) => {
      for (let i = worker; i < POSTINGS_PER_ROUND; i += IN_FLIGHT) {
        // One subject per worker: raw appends have no per-aggregate queue to keep them apart.
        const subject = `baseline.account.p${worker}`;
        const ack = await js.publish(subject, JSON.stringify({ accountId: subject, amount: '1000', i }), {
          msgID: uuidv7(),
          expect: { lastSubjectSequence: rawSequences.get(subject) ?? 0 },
        });
        rawSequences.set(subject, ack.seq);
      }
    }),
  );
  return POSTINGS_PER_ROUND / ((performance.now() - started) / 1000);
}

// Warm up both paths, then alternate.
await grantRound();
await baselineGrantRound();
const grantLatencies: number[] = [];
const baselineLatencies: number[] = [];
const postingRates: number[] = [];
const rawRates: number[] = [];
for (let round = 0; round < ROUNDS; round += 1) {
  const subjectFirst = round % 2 === 0;
  for (const side of subjectFirst ? ['subject', 'baseline'] : ['baseline', 'subject']) {
    await projectionsIdle();
    if (side === 'subject') grantLatencies.push(...(await grantRound()));
    else baselineLatencies.push(...(await baselineGrantRound()));
  }
  for (const side of subjectFirst ? ['subject', 'baseline'] : ['baseline', 'subject']) {
    await projectionsIdle();
    if (side === 'subject') postingRates.push(await postingsRound());
    else rawRates.push(await rawRound());
  }
}

const quantile = (values: number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return Number((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(2));
};
const median = (values: number[]): number => quantile(values, 0.5);

// 3. Cold load of a busy account.
const coldConnection = await connect({ servers: nats.url, noAsyncTraces: true });
const coldStore = new EventStore({
  connection: coldConnection,
  registry: new EventRegistry(eventContracts),
  namespace: 'coldload',
  publishTimeoutMs: 60_000,
});
await coldStore.ensureStreams();
const streamId = streamIdOf('billing', 'account', 'busy');
const decider = createAccountDecider({ idempotencyRetentionMs: RETENTION_MS });
const firstAt = Date.parse('2026-01-01T00:00:00.000Z');
const spacingMs = Math.floor((COLD_SPAN_DAYS * 24 * 3_600_000) / COLD_CHARGES);
let version = 0;
const envelope = (event: PendingEvent, at: number): EventEnvelope => {
  version += 1;
  const id = uuidv7();
  return {
    id,
    type: event.type,
    version: event.version,
    streamId,
    sequence: version,
    occurredAt: new Date(at).toISOString(),
    correlationId: id,
    causationId: null,
    traceparent: null,
    actor: 'service:bench',
    data: event.data,
  };
};
/** One inference charge of the busy account, as billing writes it. */
function usageData(requestId: string, at: number) {
  return {
    accountId: 'busy',
    requestId,
    grantId: null,
    product: 'inference' as const,
    item: 'llama-3-8b',
    promptTokens: 100,
    completionTokens: 50,
    gpuSeconds: 0,
    priceVersion: 1,
    day: new Date(at).toISOString().slice(0, 10),
    amount: '1000',
    fromAllowance: '0',
    fromGrant: '0',
    fromBalance: '1000',
    uncollected: '0',
    postings: [
      { from: customerLedgerAccount('busy'), to: PlatformLedgerAccount.revenueInference, amount: '1000' },
    ],
  };
}
const coldJs = jetstream(coldConnection);
const subject = coldStore.namespace.subject(streamId);
const writeStarted = performance.now();
let lastSequence = 0;
const publishCommit = async (events: EventEnvelope[]): Promise<void> => {
  const headers = natsHeaders();
  headers.set(EVENT_TYPES_HEADER, [...new Set(events.map((event) => event.type))].join(','));
  const ack = await coldJs.publish(subject, encodeCommit(events), {
    msgID: events[0]?.id ?? uuidv7(),
    headers,
    timeout: 60_000,
  });
  lastSequence = ack.seq;
};
await publishCommit([
  envelope(
    AccountOpened.create({
      accountId: 'busy',
      name: 'Busy',
      depositAddress: '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY',
    }),
    firstAt,
  ),
  envelope(
    AccountCredited.create({
      accountId: 'busy',
      idempotencyKey: 'credit:seed',
      amount: '1000000000000000000',
      reason: 'bench',
      postings: [
        {
          from: PlatformLedgerAccount.promotions,
          to: customerLedgerAccount('busy'),
          amount: '1000000000000000000',
        },
      ],
    }),
    firstAt,
  ),
]);
const pendingPublishes: Promise<void>[] = [];
for (let commit = 0; commit < COLD_CHARGES / EVENTS_PER_COMMIT; commit += 1) {
  const events: EventEnvelope[] = [];
  for (let i = 0; i < EVENTS_PER_COMMIT; i += 1) {
    const n = commit * EVENTS_PER_COMMIT + i;
    const at = firstAt + n * spacingMs;
    events.push(envelope(UsageCharged.create(usageData(`req-${n}`, at)), at));
  }
  // Pipelined on one connection, so the commits land in the order their events were numbered.
  pendingPublishes.push(publishCommit(events));
  if (pendingPublishes.length >= 32) await pendingPublishes.shift();
}
await Promise.all(pendingPublishes);
const writeSeconds = (performance.now() - writeStarted) / 1000;

const snapshots = {
  store: new SnapshotStore(coldConnection, coldStore.namespace),
  every: 2_000,
  schemaVersion: ACCOUNT_SNAPSHOT_VERSION,
  encode: (state: AccountState) => encodeAccountState(state, RETENTION_MS),
  decode: (encoded: unknown) => decodeAccountState(encoded, RETENTION_MS),
};
/** A cold load through the cache billing uses: the snapshot, then the events after it. */
async function coldLoad(): Promise<{ ms: number; state: AccountState }> {
  const cache = new AggregateCache(coldStore, decider, { snapshots });
  const t0 = performance.now();
  const state = await cache.read(streamId);
  return { ms: performance.now() - t0, state };
}
/**
 * A cold load without a snapshot: every commit read and every event decoded and evolved. Done
 * here in bounded pulls of 100 commits: `EventStore.readStream` asks for the whole stream in
 * one pull, and at this size (~550 MB) the client drops messages it cannot take in time.
 */
async function fullReplay(): Promise<{ ms: number; state: AccountState }> {
  const t0 = performance.now();
  const consumer = await coldStore.jetstream.consumers.get(coldStore.namespace.streamName(Streams.BILLING), {
    filter_subjects: [subject],
  });
  let state = decider.initialState();
  let seen = 0;
  while (seen < lastSequence) {
    const batch = await consumer.fetch({ max_messages: 100, expires: 10_000 });
    for await (const message of batch) {
      seen = message.seq;
      for (const raw of envelopesIn(message.data))
        state = decider.evolve(state, coldStore.decoder.decode(raw));
    }
  }
  return { ms: performance.now() - t0, state };
}
// The first replay reads everything; its state becomes the snapshot the cold loads start from.
const full = await fullReplay();
await snapshots.store.save('billing', streamId, {
  schemaVersion: ACCOUNT_SNAPSHOT_VERSION,
  position: { sequence: lastSequence, version },
  state: snapshots.encode(full.state),
});
const withSnapshot: number[] = [];
for (let i = 0; i < COLD_LOADS; i += 1) {
  const loaded = await coldLoad();
  if (
    loaded.state.balance !== full.state.balance ||
    loaded.state.idempotency.size !== full.state.idempotency.size
  )
    throw new Error('a snapshot load disagrees with the full replay');
  withSnapshot.push(loaded.ms);
}
const keysHeld = full.state.idempotency.size;

// How the cold load grows with the keys the retention window holds: accounts whose snapshot
// holds n charges' keys (states folded by the real decider), loaded the same way.
const byKeysHeld: Record<string, number> = {};
for (const keys of [10_000, 25_000, 50_000, 100_000]) {
  const account = `held-${keys}`;
  const sized = streamIdOf('billing', 'account', account);
  const opened = await coldStore.append(sized, [
    AccountOpened.create({
      accountId: account,
      name: account,
      depositAddress: '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY',
    }),
  ]);
  let state = decider.initialState();
  for (const event of opened.events) state = decider.evolve(state, event as Event);
  for (let n = 0; n < keys; n += 1) {
    state = decider.evolve(state, {
      ...(opened.events[0] as EventEnvelope),
      type: UsageCharged.type,
      version: UsageCharged.version,
      occurredAt: new Date(firstAt + n * 1_000).toISOString(),
      data: { ...usageData(`req-${n}`, firstAt + n * 1_000), accountId: account },
    } as Event);
  }
  await snapshots.store.save('billing', sized, {
    schemaVersion: ACCOUNT_SNAPSHOT_VERSION,
    position: opened.position,
    state: snapshots.encode(state),
  });
  const times: number[] = [];
  for (let i = 0; i < COLD_LOADS; i += 1) {
    const cache = new AggregateCache(coldStore, decider, { snapshots });
    const t0 = performance.now();
    const loaded = await cache.read(sized);
    times.push(performance.now() - t0);
    if (loaded.idempotency.size !== keys)
      throw new Error(`expected ${keys} keys, loaded ${loaded.idempotency.size}`);
  }
  byKeysHeld[String(keys)] = Number(median(times).toFixed(1));
}

const result = {
  benchmark: 'billing',
  measuredAt: new Date().toISOString(),
  machine: { cpus: cpus().length, node: process.version },
  method: `${ROUNDS} alternating rounds per pair (subject first on even rounds), projections idle at the start of each`,
  postings: {
    postingsPerRound: POSTINGS_PER_ROUND,
    accounts: ACCOUNTS,
    inFlight: IN_FLIGHT,
    perSecondMedian: Math.round(median(postingRates)),
    rawJetStreamPerSecondMedian: Math.round(median(rawRates)),
    ratio: Number((median(postingRates) / median(rawRates)).toFixed(3)),
    rounds: { subject: postingRates.map(Math.round), baseline: rawRates.map(Math.round) },
    target: '>= 5000/s',
  },
  grantCredit: {
    calls: grantLatencies.length,
    p50Ms: quantile(grantLatencies, 0.5),
    p99Ms: quantile(grantLatencies, 0.99),
    baselineP50Ms: quantile(baselineLatencies, 0.5),
    baselineP99Ms: quantile(baselineLatencies, 0.99),
    p50Ratio: Number((quantile(grantLatencies, 0.5) / quantile(baselineLatencies, 0.5)).toFixed(2)),
    target: 'p50 <= 2 ms, p99 <= 10 ms',
  },
  coldLoad: {
    charges: COLD_CHARGES,
    eventsPerCommit: EVENTS_PER_COMMIT,
    spanDays: COLD_SPAN_DAYS,
    writeSeconds: Number(writeSeconds.toFixed(1)),
    idempotencyKeysHeld: keysHeld,
    requestIdLength: 'req-<n>: 5 to 10 characters',
    withSnapshotMsMedian: Number(median(withSnapshot).toFixed(1)),
    withSnapshotMs: withSnapshot.map((ms) => Number(ms.toFixed(1))),
    withoutSnapshotMs: Math.round(full.ms),
    withSnapshotMsMedianByKeysHeld: byKeysHeld,
    target: 'with snapshots <= 50 ms',
  },
};
console.table({
  'postings/s (median)': { value: result.postings.perSecondMedian, target: result.postings.target },
  'postings vs raw JetStream': { value: result.postings.ratio, target: '(ratio)' },
  'grantCredit p50 ms': { value: result.grantCredit.p50Ms, target: '<= 2' },
  'grantCredit p99 ms': { value: result.grantCredit.p99Ms, target: '<= 10' },
  'grantCredit p50 vs bare append+reply': { value: result.grantCredit.p50Ratio, target: '(ratio)' },
  'cold load, 1M charges, snapshot (median ms)': {
    value: result.coldLoad.withSnapshotMsMedian,
    target: '<= 50',
  },
  'cold load, 1M charges, no snapshot (ms)': { value: result.coldLoad.withoutSnapshotMs, target: '(beside)' },
  'idempotency keys held': { value: result.coldLoad.idempotencyKeysHeld, target: '(7-day window)' },
  ...Object.fromEntries(
    Object.entries(byKeysHeld).map(([keys, ms]) => [
      `cold load, snapshot of ${keys} keys (median ms)`,
      { value: ms, target: '<= 50' },
    ]),
  ),
});
const out = fileURLToPath(new URL('../../../bench/results/', import.meta.url));
mkdirSync(out, { recursive: true });
writeFileSync(`${out}billing.json`, `${JSON.stringify(result, null, 2)}\n`);

await coldConnection.close();
await responder.close();
await nc.close();
await app.close();
await Promise.all([nats.stop(), postgres.stop()]);
