/**
 * `npm run bench:scheduler` — not a test. Three measurements, each against a baseline doing the
 * same work in the same run:
 *  1. Placement decisions per second on 500, 1,000 and 5,000 simulated miners × 8 GPUs, through
 *     the fleet index by GPU class, against a full scan of the fleet making the same decisions
 *     (the same rules, `placeByScan`), in alternating rounds. Each decision places one replica of
 *     a random deployment and reserves it; the oldest placements are released to keep the fleet
 *     about half full, so decisions neither all fail nor all hit an empty fleet.
 *  2. The invariant simulation (`simulatePlacement`) over 1,000 seeds: violations found.
 *  3. Scale from zero: a deployment at zero replicas gets an `inference.DemandObserved`; the time
 *     until its `scheduler.InstanceReady` against the llama engine's own load time of the same
 *     model (node-llama-cpp `loadModel` + one context per concurrency slot), measured directly in
 *     this process, in alternating rounds. Real NATS, Postgres and a miner-agent process; the
 *     scheduler runs in this process from its build (dist/: tsx emits no decorator metadata).
 * Writes bench/results/scheduler.json at the repository root.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { loadKeypair } from '@tessera/bittensor';
import {
  AxonServed,
  CreateDeployment,
  DeleteDeployment,
  DemandObserved,
  EventRegistry,
  InstanceReady,
  InstanceStopped,
  NeuronRegistered,
  Streams,
  demandStreamId,
  eventContracts,
  streamIdOf,
} from '@tessera/contracts';
import { startNatsServer, startPostgres } from '@tessera/devservers';
import { EventStore } from '@tessera/eventstore';
import { createApp } from '@tessera/platform';
import { RpcClient } from '@tessera/platform/messaging';
import { writeTinyModel } from '@tessera/tiny-model';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';
import { EventTail } from '../src/__tests__/event-tail.js';
import { startMiner } from '../src/__tests__/platform-processes.js';
import {
  fleetMinerOf,
  placeByScan,
  randomFleet,
  randomRequirement,
  simulatePlacement,
  type ModelMiner,
} from '../src/placement/__tests__/placement-simulation.js';
import {
  FleetIndex,
  seededRandom,
  type Placement,
  type PlacementRequest,
} from '../src/placement/fleet-index.js';
import { SchedulerModule } from '../dist/app.module.js';

const FLEETS = [500, 1_000, 5_000];
const DECISIONS = Number(process.env['BENCH_DECISIONS'] ?? 4_000);
const ROUNDS = 4;
const SEEDS = 1_000;
const COLD_STARTS = 4;

// ---- 1. placement decisions per second -------------------------------------------------------

/** One workload: the same fleet and request sequence for both sides. */
function workload(miners: number, seed: number) {
  const random = seededRandom(seed);
  const fleet = randomFleet(random, miners, { maxGpus: 8, fullGpus: true });
  for (const miner of fleet) miner.maxInstances = 8;
  const requests = Array.from({ length: DECISIONS }, () => {
    const requirement = randomRequirement(random);
    return { ...requirement, gpu: { ...requirement.gpu, count: 1 + Math.floor(random() * 2) } };
  });
  const capacity = miners * 8;
  return { fleet, requests, keep: Math.floor(capacity / 3) };
}

function runIndexed(miners: number, seed: number): { seconds: number; placed: number } {
  const { fleet, requests, keep } = workload(miners, seed);
  const index = FleetIndex.from(fleet.map(fleetMinerOf));
  const random = seededRandom(seed + 1);
  const held: Placement[] = [];
  let placed = 0;
  const started = performance.now();
  for (const requirement of requests) {
    const request: PlacementRequest = {
      ...requirement,
      replicaMiners: new Set(),
      replicaColdkeys: new Set(),
    };
    const placement = index.place(request, random);
    if (placement) {
      index.reserve(placement);
      held.push(placement);
      placed += 1;
    }
    if (held.length > keep) index.release(held.shift() as Placement);
  }
  return { seconds: (performance.now() - started) / 1_000, placed };
}

function runScan(miners: number, seed: number): { seconds: number; placed: number } {
  const { fleet, requests, keep } = workload(miners, seed);
  const random = seededRandom(seed + 1);
  const held: { miner: ModelMiner; id: string }[] = [];
  let placed = 0;
  const started = performance.now();
  for (const [n, requirement] of requests.entries()) {
    const request: PlacementRequest = {
      ...requirement,
      replicaMiners: new Set(),
      replicaColdkeys: new Set(),
    };
    const placement = placeByScan(fleet, request, random);
    if (placement) {
      const id = `i-${n}`;
      for (const gpu of placement.miner.gpus) if (placement.gpus.includes(gpu.index)) gpu.holder = id;
      placement.miner.instances.add(id);
      held.push({ miner: placement.miner, id });
      placed += 1;
    }
    if (held.length > keep) {
      const oldest = held.shift() as (typeof held)[number];
      for (const gpu of oldest.miner.gpus) if (gpu.holder === oldest.id) gpu.holder = null;
      oldest.miner.instances.delete(oldest.id);
    }
  }
  return { seconds: (performance.now() - started) / 1_000, placed };
}

// Warm-up of both sides on every fleet size first, so the first size measured is not the one
// paying for the JIT.
for (const miners of FLEETS) runIndexed(miners, 99);
runScan(FLEETS[0] as number, 99);
const placement: Record<string, unknown>[] = [];
for (const miners of FLEETS) {
  let indexedSeconds = 0;
  let scanSeconds = 0;
  let decisions = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // Alternating which goes first, the same seed for both within a round.
    const sides = round % 2 === 0 ? (['indexed', 'scan'] as const) : (['scan', 'indexed'] as const);
    for (const side of sides) {
      const result = side === 'indexed' ? runIndexed(miners, round) : runScan(miners, round);
      if (side === 'indexed') indexedSeconds += result.seconds;
      else scanSeconds += result.seconds;
    }
    decisions += DECISIONS;
  }
  const perSecond = Math.round(decisions / indexedSeconds);
  const scanPerSecond = Math.round(decisions / scanSeconds);
  const row = {
    miners,
    gpus: miners * 8,
    decisions,
    perSecond,
    microsecondsPerDecision: Number(((indexedSeconds / decisions) * 1e6).toFixed(2)),
    fullScanPerSecond: scanPerSecond,
    ratioVsFullScan: Number((perSecond / scanPerSecond).toFixed(2)),
  };
  placement.push(row);
  console.log(
    `placement ${miners} miners × 8 GPUs: ${perSecond}/s (${row.microsecondsPerDecision} µs each), full scan ${scanPerSecond}/s, ratio ${row.ratioVsFullScan}`,
  );
}

// ---- 2. invariant simulation ------------------------------------------------------------------

const simulationStarted = performance.now();
let violations = 0;
const firstViolations: unknown[] = [];
for (let seed = 1; seed <= SEEDS; seed++) {
  const found = simulatePlacement(seed, { miners: 12, steps: 60 });
  violations += found.length;
  if (found.length > 0 && firstViolations.length < 5) firstViolations.push({ seed, ...found[0] });
}
const simulation = {
  seeds: SEEDS,
  stepsPerSeed: 60,
  violations,
  firstViolations,
  seconds: Number(((performance.now() - simulationStarted) / 1_000).toFixed(2)),
};
console.log(`invariant simulation: ${SEEDS} seeds, ${violations} violations`);

// ---- 3. scale from zero vs the llama engine's load time ----------------------------------------

const NETUID = 7;
const SECRET = 'bench-instance-token-secret-0123456789';
const nats = await startNatsServer();
const postgres = await startPostgres({ fastUnsafe: true });
const modelDir = await mkdtemp(join(tmpdir(), 'scheduler-bench-'));
const modelPath = join(modelDir, 'tiny.gguf');
const sha256 = await writeTinyModel(modelPath, { seed: 5 });
const validator = (await loadKeypair({ seed: '//BenchValidator' }, 42))!;
const minerKey = (await loadKeypair({ seed: '//BenchMiner' }, 42))!;
const miner = await startMiner({
  MINER_HOTKEY_SEED: '//BenchMiner',
  ALLOWED_VALIDATOR_HOTKEYS: validator.address,
  GPUS: '1xcpu:0',
  MODEL_CACHE_DIR: join(modelDir, 'cache'),
});
const nc = await connect({ servers: nats.url, noAsyncTraces: true });
const store = new EventStore({ connection: nc, registry: new EventRegistry(eventContracts) });
await store.ensureStreams();
// The chain indexer's facts for the one miner, as it would append them.
await store.append(streamIdOf('chain', 'block', '1'), [
  NeuronRegistered.create({
    netuid: NETUID,
    uid: 1,
    hotkey: minerKey.address,
    coldkey: validator.address,
    blockNumber: 1,
    blockHash: `0x${'1'.padStart(64, '0')}`,
    extrinsicIndex: 0,
    eventIndex: 0,
  }),
  AxonServed.create({
    netuid: NETUID,
    hotkey: minerKey.address,
    ip: '203.0.113.1',
    ipType: 4,
    port: 8091,
    protocol: 4,
    version: 1,
    blockNumber: 1,
    blockHash: `0x${'1'.padStart(64, '0')}`,
    extrinsicIndex: 0,
    eventIndex: 1,
  }),
]);
const silent = new Writable({ write: (_chunk, _encoding, done) => done() });
const app = await createApp(
  SchedulerModule.forRoot({
    env: {
      SERVICE_NAME: 'scheduler',
      NODE_ENV: 'test',
      NATS_URL: nats.url,
      DATABASE_URL: postgres.url,
      DATABASE_SCHEMA: 'scheduler',
      HTTP_PORT: '0',
      LOG_LEVEL: 'warn',
      NETUID: String(NETUID),
      VALIDATOR_SEED: '//BenchValidator',
      INSTANCE_TOKEN_SECRET: SECRET,
      AXON_ADDRESS_MAP: `203.0.113.1:8091=127.0.0.1:${miner.minerPort}`,
      POLL_INTERVAL_MS: '1000',
      RECONCILE_INTERVAL_MS: '200',
      DRAIN_GRACE_MS: '0',
    },
    logging: { destination: silent },
  }),
  { logger: false },
);
const rpc = new RpcClient(nc);
const tail = await EventTail.follow(store, Streams.SCHEDULER);
const llama = await getLlama({ gpu: false, build: 'never', maxThreads: 1, logLevel: LlamaLogLevel.error });
const concurrency = 1;

/** What the llama engine does to serve a launch: load the model and one context per slot. */
async function directLoad(): Promise<number> {
  const started = performance.now();
  const model = await llama.loadModel({ modelPath });
  const contexts = [];
  for (let slot = 0; slot < concurrency; slot++) {
    contexts.push(
      await model.createContext({ contextSize: Math.min(model.trainContextSize, 8192), sequences: 1 }),
    );
  }
  const ms = performance.now() - started;
  for (const context of contexts) await context.dispose();
  await model.dispose();
  return ms;
}

/** A new deployment at zero replicas, one demand report, until its instance is ready; then deleted. */
async function coldStart(round: number): Promise<number> {
  const deploymentId = `cold-${round}`;
  await rpc.call(CreateDeployment, {
    deploymentId,
    name: `tiny-${round}`,
    ownerAccountId: 'bench',
    model: { uri: `file://${modelPath}`, revision: 'seed-5', sha256 },
    engine: { name: 'llama' },
    gpu: { count: 1 },
    concurrency,
    minReplicas: 0,
    maxReplicas: 1,
    scaleToZeroAfterSeconds: 300,
    visibility: 'public',
  });
  const windowMs = 1_000;
  const started = performance.now();
  await store.append(demandStreamId(deploymentId, 'bench'), [
    DemandObserved.create({
      deploymentId,
      source: 'bench',
      windowStart: new Date(Date.now() - windowMs).toISOString(),
      windowMs,
      inFlight: 0,
      queued: 1,
      requests: 1,
      rejectedForCapacity: 0,
    }),
  ]);
  const [ready] = await tail.waitFor(InstanceReady, (event) => event.data.deploymentId === deploymentId, {
    timeoutMs: 120_000,
  });
  const ms = performance.now() - started;
  await rpc.call(DeleteDeployment, { deploymentId });
  await tail.waitFor(InstanceStopped, (event) => event.data.instanceId === ready!.data.instanceId, {
    timeoutMs: 60_000,
  });
  return ms;
}

// Warm-up of both (first llama runtime use in the miner, first model copy into its cache).
await coldStart(0);
await directLoad();
const coldStarts: number[] = [];
const loads: number[] = [];
for (let round = 1; round <= COLD_STARTS; round++) {
  if (round % 2 === 1) {
    coldStarts.push(await coldStart(round));
    loads.push(await directLoad());
  } else {
    loads.push(await directLoad());
    coldStarts.push(await coldStart(round));
  }
}
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};
const scaleFromZero = {
  rounds: COLD_STARTS,
  demandToReadyMs: coldStarts.map((ms) => Math.round(ms)),
  llamaLoadMs: loads.map((ms) => Math.round(ms)),
  medianDemandToReadyMs: Math.round(median(coldStarts)),
  medianLlamaLoadMs: Math.round(median(loads)),
  medianOverheadMs: Math.round(median(coldStarts) - median(loads)),
  target: '<= load time + 2000 ms',
};
console.log(
  `scale from zero: demand → InstanceReady median ${scaleFromZero.medianDemandToReadyMs} ms, llama load median ${scaleFromZero.medianLlamaLoadMs} ms, overhead ${scaleFromZero.medianOverheadMs} ms`,
);

await tail.close();
await app.close();
await miner.stop();
await nc.close();
await llama.dispose();
await postgres.stop();
await nats.stop();
await rm(modelDir, { recursive: true, force: true });

const result = {
  benchmark: 'scheduler',
  measuredAt: new Date().toISOString(),
  machine: { cpus: cpus().length, node: process.version },
  placement: { target: '>= 1000/s at 5000 miners, cost per decision flat 500 → 5000', fleets: placement },
  simulation: { ...simulation, target: '0 violations' },
  scaleFromZero,
};
const out = fileURLToPath(new URL('../../../bench/results/', import.meta.url));
mkdirSync(out, { recursive: true });
writeFileSync(`${out}scheduler.json`, `${JSON.stringify(result, null, 2)}\n`);
console.log(`wrote ${out}scheduler.json`);
