/**
 * `npm run bench:rpc` — not a test. Measures, in one run on this machine, the same request/reply
 * (a small JSON request validated by its contract, answered by a trivial handler) through:
 *  - `nest`: the platform's RPC layer — an `@RpcHandler` controller in a Nest app served by the
 *    RpcServer transport, called with `RpcClient.call` (through its Nest ClientProxy);
 *  - `handWritten`: the platform's previous hand-written server and client (bench/baseline/);
 *  - `bare`: a bare NATS subscription answering `connection.request` with JSON, no validation,
 *    no spans, no headers — the floor.
 * Each round runs every layer (the order rotates between rounds): sequential calls for round-trip
 * p50/p99, then calls/s with many in flight. Telemetry runs as in a service without an exporter.
 * Prints a table and writes bench/results/rpc.json at the repository root.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Controller, Module } from '@nestjs/common';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { defineRpc, EventRegistry, type RpcParsedRequestOf, type RpcResponseOf } from '@tessera/contracts';
import { startNatsServer } from '@tessera/devservers';
import { createApp, createLogger, MessagingConfig, PlatformModule, startTelemetry } from '@tessera/platform';
import { MessagingModule, RpcClient, RpcHandler } from '@tessera/platform/messaging';
import { z } from 'zod';
import { HandWrittenRpcClient } from './baseline/hand-written-rpc-client.js';
import { HandWrittenRpcServer } from './baseline/hand-written-rpc-server.js';

const ROUNDS = 6;
const WARMUP_CALLS = 1_000;
const LATENCY_CALLS = 2_000;
const THROUGHPUT_CALLS = 8_000;
const IN_FLIGHT = 64;
/** The Nest layer's p50 must stay within this factor of the hand-written one (issue 9 item 10). */
const TARGET_P50_RATIO = 1.2;

const Quote = defineRpc({
  subject: 'rpc.bench.quote',
  request: z.object({ accountId: z.string().min(1), tokens: z.number().int().nonnegative() }),
  response: z.object({ accountId: z.string(), priceNanoUsd: z.string().regex(/^\d+$/) }),
});
type QuoteRequest = RpcParsedRequestOf<typeof Quote>;
const quote = (request: QuoteRequest): RpcResponseOf<typeof Quote> => ({
  accountId: request.accountId,
  priceNanoUsd: String(request.tokens * 1_500),
});

@Controller()
class QuoteRpc {
  @RpcHandler(Quote)
  quote(request: QuoteRequest): RpcResponseOf<typeof Quote> {
    return quote(request);
  }
}

const stopTelemetry = startTelemetry({ serviceName: 'bench-rpc', autoInstrument: false });
const nats = await startNatsServer();
const open = (): Promise<NatsConnection> => connect({ servers: nats.url, noAsyncTraces: true });
const silent = createLogger({ service: 'bench-rpc', level: 'silent' });

// nest: the whole platform wiring, as a service runs it (its own NATS connection inside).
@Module({
  imports: [
    PlatformModule.forRoot({
      config: MessagingConfig,
      env: { SERVICE_NAME: 'bench-nest', NATS_URL: nats.url, NATS_SUBJECT_PREFIX: 'nest', HTTP_PORT: '0' },
      logging: { destination: new Writable({ write: (_chunk, _encoding, done) => done() }) },
    }),
    MessagingModule.forRoot({ registry: new EventRegistry(), ensureStreams: false }),
  ],
  controllers: [QuoteRpc],
})
class BenchAppModule {}
const app = await createApp(BenchAppModule, { logger: false });
const nestClientConnection = await open();
const nestClient = new RpcClient(nestClientConnection, { subjectPrefix: 'nest' });

// handWritten: the previous implementation, same connections layout.
const handWrittenServerConnection = await open();
const handWrittenServer = new HandWrittenRpcServer(handWrittenServerConnection, {
  queueGroup: 'bench-hand-written',
  subjectPrefix: 'old',
  logger: silent,
});
handWrittenServer.handle(Quote, quote);
handWrittenServer.start();
const handWrittenClientConnection = await open();
const handWrittenClient = new HandWrittenRpcClient(handWrittenClientConnection, { subjectPrefix: 'old' });

// bare: JSON over core NATS request/reply.
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bareServerConnection = await open();
bareServerConnection.subscribe(`bare.${Quote.subject}`, {
  queue: 'bench-bare',
  callback: (_err, msg) => {
    const request = JSON.parse(decoder.decode(msg.data)) as QuoteRequest;
    msg.respond(encoder.encode(JSON.stringify(quote(request))));
  },
});
const bareClientConnection = await open();
await Promise.all([handWrittenServerConnection.flush(), bareServerConnection.flush()]);

type Layer = 'nest' | 'handWritten' | 'bare';
const LAYERS: readonly Layer[] = ['nest', 'handWritten', 'bare'];
const calls: Record<Layer, (index: number) => Promise<unknown>> = {
  nest: (index) => nestClient.call(Quote, { accountId: `acc-${index % 100}`, tokens: index }),
  handWritten: (index) => handWrittenClient.call(Quote, { accountId: `acc-${index % 100}`, tokens: index }),
  bare: async (index) => {
    const reply = await bareClientConnection.request(
      `bare.${Quote.subject}`,
      encoder.encode(JSON.stringify({ accountId: `acc-${index % 100}`, tokens: index })),
      { timeout: 5_000 },
    );
    return JSON.parse(decoder.decode(reply.data)) as unknown;
  },
};

/** Sequential calls; returns each round trip in microseconds. */
async function roundTrips(call: (index: number) => Promise<unknown>, count: number): Promise<number[]> {
  const micros: number[] = [];
  for (let index = 0; index < count; index += 1) {
    const started = performance.now();
    await call(index);
    micros.push((performance.now() - started) * 1_000);
  }
  return micros;
}

/** `count` calls with `IN_FLIGHT` outstanding; returns calls per second. */
async function throughput(call: (index: number) => Promise<unknown>, count: number): Promise<number> {
  const started = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async (_, worker) => {
      for (let index = worker; index < count; index += IN_FLIGHT) await call(index);
    }),
  );
  return count / ((performance.now() - started) / 1_000);
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}
function median(values: readonly number[]): number {
  return percentile(values, 50);
}
const round1 = (value: number): number => Math.round(value * 10) / 10;
const round3 = (value: number): number => Math.round(value * 1_000) / 1_000;

interface LayerRound {
  p50Us: number;
  p99Us: number;
  callsPerSecond: number;
}

for (const layer of LAYERS) {
  await roundTrips(calls[layer], WARMUP_CALLS);
  await throughput(calls[layer], WARMUP_CALLS);
}

const rounds: { order: Layer[]; layers: Record<Layer, LayerRound> }[] = [];
for (let round = 0; round < ROUNDS; round += 1) {
  const order = LAYERS.map((_, index) => LAYERS[(index + round) % LAYERS.length] as Layer);
  const layers = {} as Record<Layer, LayerRound>;
  for (const layer of order) {
    const micros = await roundTrips(calls[layer], LATENCY_CALLS);
    layers[layer] = {
      p50Us: round1(percentile(micros, 50)),
      p99Us: round1(percentile(micros, 99)),
      callsPerSecond: Math.round(await throughput(calls[layer], THROUGHPUT_CALLS)),
    };
  }
  rounds.push({ order, layers });
  console.log(
    `round ${round + 1}/${ROUNDS} (${order.join(' → ')}): ` +
      LAYERS.map(
        (layer) =>
          `${layer} p50 ${layers[layer].p50Us} µs p99 ${layers[layer].p99Us} µs ${layers[layer].callsPerSecond}/s`,
      ).join(' | '),
  );
}

const summary = (layer: Layer): LayerRound => ({
  p50Us: round1(median(rounds.map((r) => r.layers[layer].p50Us))),
  p99Us: round1(median(rounds.map((r) => r.layers[layer].p99Us))),
  callsPerSecond: Math.round(median(rounds.map((r) => r.layers[layer].callsPerSecond))),
});
const perRoundRatio = (pick: (entry: LayerRound) => number, numerator: Layer, denominator: Layer): number =>
  round3(median(rounds.map((r) => pick(r.layers[numerator]) / pick(r.layers[denominator]))));

const result = {
  benchmark: 'rpc',
  measuredAt: new Date().toISOString(),
  machine: { cpus: cpus().length, node: process.version },
  setup: {
    rounds: ROUNDS,
    latencyCallsPerRound: LATENCY_CALLS,
    throughputCallsPerRound: THROUGHPUT_CALLS,
    inFlight: IN_FLIGHT,
    baseline:
      'handWritten = the hand-written RpcServer/RpcClient of commit dff3135, kept in packages/platform/bench/baseline/',
  },
  layers: { nest: summary('nest'), handWritten: summary('handWritten'), bare: summary('bare') },
  // Medians of the per-round ratios (both sides measured in the same round).
  ratios: {
    nestVsHandWrittenP50: perRoundRatio((e) => e.p50Us, 'nest', 'handWritten'),
    nestVsHandWrittenP99: perRoundRatio((e) => e.p99Us, 'nest', 'handWritten'),
    nestVsHandWrittenCallsPerSecond: perRoundRatio((e) => e.callsPerSecond, 'nest', 'handWritten'),
    nestVsBareP50: perRoundRatio((e) => e.p50Us, 'nest', 'bare'),
    handWrittenVsBareP50: perRoundRatio((e) => e.p50Us, 'handWritten', 'bare'),
  },
  target: `nestVsHandWrittenP50 <= ${TARGET_P50_RATIO}`,
  rounds,
};

console.log('\nlayer        p50 µs   p99 µs   calls/s');
for (const layer of LAYERS) {
  const { p50Us, p99Us, callsPerSecond } = result.layers[layer];
  console.log(
    `${layer.padEnd(12)} ${String(p50Us).padStart(7)}  ${String(p99Us).padStart(7)}  ${String(callsPerSecond).padStart(8)}`,
  );
}
console.log(
  `\nnest / handWritten: p50 ×${result.ratios.nestVsHandWrittenP50} (target ≤ ${TARGET_P50_RATIO}), ` +
    `p99 ×${result.ratios.nestVsHandWrittenP99}, calls/s ×${result.ratios.nestVsHandWrittenCallsPerSecond}; ` +
    `nest / bare p50 ×${result.ratios.nestVsBareP50}`,
);

const resultsDir = fileURLToPath(new URL('../../../bench/results/', import.meta.url));
mkdirSync(resultsDir, { recursive: true });
writeFileSync(`${resultsDir}rpc.json`, `${JSON.stringify(result, null, 2)}\n`);
console.log(`wrote ${resultsDir}rpc.json`);

await app.close();
await handWrittenServer.drain();
await Promise.all(
  [
    nestClientConnection,
    handWrittenServerConnection,
    handWrittenClientConnection,
    bareServerConnection,
    bareClientConnection,
  ].map((connection) => connection.close()),
);
await nats.stop();
await stopTelemetry();
if (result.ratios.nestVsHandWrittenP50 > TARGET_P50_RATIO) process.exitCode = 1;
