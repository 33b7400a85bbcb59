/**
 * `npm run bench:billing` — not a test. Against a real NATS and Postgres started here, with the
 * billing service running in this process:
 *  1. `grantCredit` round trip over NATS request/reply, one call at a time: p50 / p99;
 *  2. postings per second sustained: operator credits (one posting each) on 200 accounts, 256 in
 *     flight, through the account aggregate (append with expected position, cached state).
 * Each is set against a baseline measured in the same run on the same servers: for (1) a bare
 * NATS responder that makes the one durable JetStream append a grant needs and replies; for (2)
 * raw JetStream publishes of the same number of events with `Nats-Msg-Id` and expected subject
 * sequence. The ratios say what billing's logic costs on top of the messaging it cannot avoid.
 * Writes bench/results/billing.json at the repository root. Runs the built service (dist/): tsx
 * does not emit the decorator metadata Nest injects by.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { v7 as uuidv7 } from 'uuid';
import { CreditAccount, GrantCredit, OpenAccount } from '@tessera/contracts';
import { startNatsServer, startPostgres } from '@tessera/devservers';
import { createApp } from '@tessera/platform';
import { RpcClient } from '@tessera/platform/messaging';
import { BillingModule } from '../dist/app.module.js';
import { AccountService } from '../dist/accounts/account.service.js';

const ACCOUNTS = 200;
const POSTINGS = 30_000;
const IN_FLIGHT = 256;
const GRANT_CALLS = 2_000;

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

const ids = Array.from({ length: ACCOUNTS }, (_, i) => `bench-${i}`);
for (const accountId of ids) {
  await rpc.call(OpenAccount, { accountId, name: accountId });
  await rpc.call(CreditAccount, { accountId, idempotencyKey: 'seed', amount: '1000000000000000' });
}

// 1. grantCredit round trip, sequential, in steady state: measured before the postings load so
// the projections are not still working through a backlog on the same two cores.
for (let i = 0; i < 200; i += 1) {
  await rpc.call(GrantCredit, { accountId: ids[i % ACCOUNTS] as string, holder: 'bench', requested: '1000' });
}
const latencies: number[] = [];
for (let i = 0; i < GRANT_CALLS; i += 1) {
  const t0 = performance.now();
  await rpc.call(GrantCredit, { accountId: ids[i % ACCOUNTS] as string, holder: 'bench', requested: '1000' });
  latencies.push(performance.now() - t0);
}
// Baseline for (1): request/reply plus one durable append, nothing else.
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
const baselineLatencies: number[] = [];
for (let i = 0; i < GRANT_CALLS; i += 1) {
  const t0 = performance.now();
  await nc.request(
    'bench-baseline.grant',
    JSON.stringify({ accountId: ids[i % ACCOUNTS], requested: '1000' }),
  );
  baselineLatencies.push(performance.now() - t0);
}

// 2. Postings per second.
const started = performance.now();
await Promise.all(
  Array.from({ length: IN_FLIGHT }, async (_, worker) => {
    for (let i = worker; i < POSTINGS; i += IN_FLIGHT) {
      const accountId = ids[i % ACCOUNTS] as string;
      await accounts.execute(
        { kind: 'credit', accountId, idempotencyKey: `p-${i}`, amount: 1_000n, reason: 'bench' },
        'operator:bench',
      );
    }
  }),
);
const postingsPerSecond = Math.round(POSTINGS / ((performance.now() - started) / 1000));

// Baseline for (2): the same number of appends, raw.
const rawSequences = new Map<string, number>();
const rawStarted = performance.now();
await Promise.all(
  Array.from({ length: IN_FLIGHT }, async (_, worker) => {
    for (let i = worker; i < POSTINGS; i += IN_FLIGHT) {
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
const rawPerSecond = Math.round(POSTINGS / ((performance.now() - rawStarted) / 1000));

latencies.sort((a, b) => a - b);
baselineLatencies.sort((a, b) => a - b);
const quantileOf = (values: number[], q: number) =>
  Number((values[Math.min(values.length - 1, Math.floor(q * values.length))] ?? 0).toFixed(2));
const quantile = (q: number) => quantileOf(latencies, q);

const result = {
  benchmark: 'billing',
  measuredAt: new Date().toISOString(),
  machine: { cpus: cpus().length, node: process.version },
  postings: {
    postings: POSTINGS,
    accounts: ACCOUNTS,
    inFlight: IN_FLIGHT,
    perSecond: postingsPerSecond,
    rawJetStreamPerSecond: rawPerSecond,
    ratio: Number((postingsPerSecond / rawPerSecond).toFixed(3)),
    target: '>= 5000/s',
  },
  grantCredit: {
    calls: GRANT_CALLS,
    p50Ms: quantile(0.5),
    p99Ms: quantile(0.99),
    baselineP50Ms: quantileOf(baselineLatencies, 0.5),
    baselineP99Ms: quantileOf(baselineLatencies, 0.99),
    p50Ratio: Number((quantile(0.5) / quantileOf(baselineLatencies, 0.5)).toFixed(2)),
    target: 'p50 <= 2 ms, p99 <= 10 ms',
  },
};
console.table({
  'postings/s': { value: result.postings.perSecond, target: result.postings.target },
  'postings vs raw JetStream': { value: result.postings.ratio, target: '(ratio)' },
  'grantCredit p50 ms': { value: result.grantCredit.p50Ms, target: '<= 2' },
  'grantCredit p99 ms': { value: result.grantCredit.p99Ms, target: '<= 10' },
  'grantCredit p50 vs bare append+reply': { value: result.grantCredit.p50Ratio, target: '(ratio)' },
});
const out = fileURLToPath(new URL('../../../bench/results/', import.meta.url));
mkdirSync(out, { recursive: true });
writeFileSync(`${out}billing.json`, `${JSON.stringify(result, null, 2)}\n`);

await responder.close();
await nc.close();
await app.close();
await Promise.all([nats.stop(), postgres.stop()]);
