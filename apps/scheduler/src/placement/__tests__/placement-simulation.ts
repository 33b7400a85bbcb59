/**
 * A plain model of a fleet (arrays, full scans) that checks every decision of the indexed
 * placement against the rules: the property tests and `npm run bench:scheduler` run it.
 */
import { type EngineName, type GpuRequirements } from '@tessera/contracts';
import {
  FleetIndex,
  classFits,
  seededRandom,
  type FleetMiner,
  type Placement,
  type PlacementRequest,
  type RandomSource,
  type Spread,
} from '../fleet-index.js';

export interface ModelGpu {
  index: number;
  gpuType: string;
  memoryMiB: number;
  /** The instance holding it, or null. */
  holder: string | null;
}

export interface ModelMiner {
  hotkey: string;
  coldkey: string;
  engines: EngineName[];
  maxInstances: number;
  gpus: ModelGpu[];
  instances: Set<string>;
}

/** The best (spread, GPUs left free) any miner offers for `request`, by scanning them all. */
export function bestByScan(
  miners: Iterable<ModelMiner>,
  request: PlacementRequest,
): { spread: Spread; freeAfter: number } | undefined {
  let best: { spread: Spread; freeAfter: number } | undefined;
  for (const miner of miners) {
    const score = scoreOf(miner, request);
    if (score && (!best || compare(score, best) < 0)) best = score;
  }
  return best;
}

/**
 * The baseline the benchmark measures the index against: the same rules as a full scan of the
 * fleet per decision, ties broken uniformly at random (reservoir sampling).
 */
export function placeByScan(
  miners: readonly ModelMiner[],
  request: PlacementRequest,
  random: RandomSource,
): (Placement & { miner: ModelMiner }) | undefined {
  let best: { spread: Spread; freeAfter: number; miner: ModelMiner; gpus: ModelGpu[] } | undefined;
  let ties = 0;
  for (const miner of miners) {
    const found = scoreOf(miner, request);
    if (!found) continue;
    const order = best ? compare(found, best) : -1;
    if (order < 0) {
      best = { ...found, miner };
      ties = 1;
    } else if (order === 0 && random() * ++ties < 1) {
      best = { ...found, miner };
    }
  }
  if (!best) return undefined;
  const chosen = best.gpus.slice(0, request.gpu.count);
  const first = chosen[0] as ModelGpu;
  return {
    miner: best.miner,
    minerHotkey: best.miner.hotkey,
    coldkey: best.miner.coldkey,
    gpuType: first.gpuType,
    memoryMiB: first.memoryMiB,
    gpus: chosen.map((gpu) => gpu.index),
    spread: best.spread,
    freeAfter: best.freeAfter,
  };
}

function scoreOf(
  miner: ModelMiner,
  request: PlacementRequest,
): { spread: Spread; freeAfter: number; gpus: ModelGpu[] } | undefined {
  if (request.excludedMiners?.has(miner.hotkey) || !miner.engines.includes(request.engine)) return undefined;
  if (miner.instances.size >= miner.maxInstances) return undefined;
  const spread: Spread = request.replicaMiners.has(miner.hotkey)
    ? 2
    : request.replicaColdkeys.has(miner.coldkey)
      ? 1
      : 0;
  let best: { freeAfter: number; gpus: ModelGpu[] } | undefined;
  const byClass = new Map<string, ModelGpu[]>();
  for (const gpu of miner.gpus) {
    if (gpu.holder !== null || !classFits(gpu, request.gpu)) continue;
    const key = `${gpu.gpuType}|${gpu.memoryMiB}`;
    byClass.set(key, [...(byClass.get(key) ?? []), gpu]);
  }
  for (const gpus of byClass.values()) {
    if (gpus.length < request.gpu.count) continue;
    const freeAfter = gpus.length - request.gpu.count;
    if (!best || freeAfter < best.freeAfter)
      best = { freeAfter, gpus: gpus.sort((a, b) => a.index - b.index) };
  }
  return best ? { spread, ...best } : undefined;
}

function compare(a: { spread: number; freeAfter: number }, b: { spread: number; freeAfter: number }): number {
  return a.spread - b.spread || a.freeAfter - b.freeAfter;
}

/** What the index is given for a model miner. */
export function fleetMinerOf(miner: ModelMiner): FleetMiner {
  return {
    hotkey: miner.hotkey,
    coldkey: miner.coldkey,
    engines: miner.engines,
    slotsFree: miner.maxInstances - miner.instances.size,
    gpus: miner.gpus.map((gpu) => ({
      index: gpu.index,
      gpuType: gpu.gpuType,
      memoryMiB: gpu.memoryMiB,
      free: gpu.holder === null,
    })),
  };
}

const GPU_CLASSES = [
  { gpuType: 'h100-80gb-hbm3', memoryMiB: 81_559 },
  { gpuType: 'a100-sxm4-80gb', memoryMiB: 81_920 },
  { gpuType: 'a100-sxm4-40gb', memoryMiB: 40_960 },
  { gpuType: 'rtx-4090', memoryMiB: 24_564 },
  { gpuType: 'l40s', memoryMiB: 46_068 },
] as const;
const ENGINE_SETS: EngineName[][] = [
  ['vllm', 'sglang'],
  ['vllm'],
  ['llama', 'llama-server'],
  ['vllm', 'llama'],
];

/** A random fleet: `miners` miners of up to `maxGpus` GPUs (one or two classes each), some coldkeys shared. */
export function randomFleet(
  random: RandomSource,
  miners: number,
  options: { maxGpus?: number; fullGpus?: boolean; prefix?: string } = {},
): ModelMiner[] {
  const maxGpus = options.maxGpus ?? 8;
  const coldkeys = Math.max(1, Math.ceil(miners / 3));
  return Array.from({ length: miners }, (_, n) => {
    const gpuCount = options.fullGpus ? maxGpus : 1 + Math.floor(random() * maxGpus);
    const first = GPU_CLASSES[Math.floor(random() * GPU_CLASSES.length)] as (typeof GPU_CLASSES)[number];
    const second = GPU_CLASSES[Math.floor(random() * GPU_CLASSES.length)] as (typeof GPU_CLASSES)[number];
    const split = random() < 0.2 ? Math.floor(gpuCount / 2) : gpuCount;
    return {
      hotkey: `${options.prefix ?? 'miner'}-${n}`,
      coldkey: `cold-${Math.floor(random() * coldkeys)}`,
      engines: ENGINE_SETS[Math.floor(random() * ENGINE_SETS.length)] as EngineName[],
      maxInstances: 1 + Math.floor(random() * gpuCount),
      gpus: Array.from({ length: gpuCount }, (_, index) => ({
        index,
        ...(index < split ? first : second),
        holder: null,
      })),
      instances: new Set<string>(),
    };
  });
}

/** A random deployment requirement. */
export function randomRequirement(random: RandomSource): { engine: EngineName; gpu: GpuRequirements } {
  const engines: EngineName[] = ['vllm', 'sglang', 'llama', 'llama-server'];
  const types = GPU_CLASSES.map((gpuClass) => gpuClass.gpuType);
  const pickType = (): string => types[Math.floor(random() * types.length)] as string;
  const roll = random();
  return {
    engine: engines[Math.floor(random() * engines.length)] as EngineName,
    gpu: {
      count: random() < 0.6 ? 1 : 1 + Math.floor(random() * 4),
      minVramMiB: random() < 0.3 ? 41_000 : 0,
      allowedTypes: roll < 0.2 ? [pickType().split('-')[0] as string] : [],
      excludedTypes: roll > 0.85 ? [pickType()] : [],
    },
  };
}

/** A violated rule, with the step that broke it. */
export interface Violation {
  step: number;
  rule: string;
  detail: string;
}

/**
 * Runs `steps` random operations — place replicas of random deployments, end instances, remove
 * and add miners — against both the index and the model, and returns every rule a decision broke:
 * a GPU given twice, a miner over its instance slots, a placement that does not fit, a replica on
 * a busier spread level or a looser fit than the best a full scan finds, a refusal where a scan
 * finds room, or the index disagreeing with the model about free GPUs.
 */
export function simulatePlacement(
  seed: number,
  options: { miners?: number; steps?: number } = {},
): Violation[] {
  const random = seededRandom(seed);
  const violations: Violation[] = [];
  const miners = new Map<string, ModelMiner>();
  for (const miner of randomFleet(random, options.miners ?? 12, { maxGpus: 8 }))
    miners.set(miner.hotkey, miner);
  const index = FleetIndex.from([...miners.values()].map(fleetMinerOf));
  const deployments = Array.from({ length: 5 }, () => randomRequirement(random));
  const instances = new Map<string, { deployment: number; placement: Placement }>();
  let nextInstance = 0;
  let nextMiner = miners.size;
  const fail = (step: number, rule: string, detail: string): void => {
    violations.push({ step, rule, detail });
  };

  for (let step = 0; step < (options.steps ?? 60); step++) {
    const roll = random();
    if (roll < 0.6) {
      const deployment = Math.floor(random() * deployments.length);
      const requirement = deployments[deployment] as (typeof deployments)[number];
      const siblings = [...instances.values()].filter((instance) => instance.deployment === deployment);
      const request: PlacementRequest = {
        ...requirement,
        replicaMiners: new Set(siblings.map((instance) => instance.placement.minerHotkey)),
        replicaColdkeys: new Set(siblings.map((instance) => instance.placement.coldkey)),
      };
      const placement = index.place(request, random);
      const best = bestByScan(miners.values(), request);
      if (!placement) {
        if (best) fail(step, 'refused-with-room', `a scan finds ${JSON.stringify(best)}`);
        continue;
      }
      if (!best) {
        fail(step, 'placed-without-room', `placed on ${placement.minerHotkey}`);
        continue;
      }
      if (placement.spread !== best.spread || placement.freeAfter !== best.freeAfter) {
        fail(
          step,
          'not-best',
          `got ${placement.spread}/${placement.freeAfter}, best ${best.spread}/${best.freeAfter}`,
        );
      }
      const miner = miners.get(placement.minerHotkey);
      if (!miner) {
        fail(step, 'unknown-miner', placement.minerHotkey);
        continue;
      }
      if (!miner.engines.includes(requirement.engine)) fail(step, 'engine', placement.minerHotkey);
      if (placement.gpus.length !== requirement.gpu.count)
        fail(step, 'gpu-count', `${placement.gpus.length}`);
      if (miner.instances.size >= miner.maxInstances) fail(step, 'slots-exceeded', placement.minerHotkey);
      const instanceId = `i-${nextInstance++}`;
      for (const gpuIndex of placement.gpus) {
        const gpu = miner.gpus.find((candidate) => candidate.index === gpuIndex);
        if (!gpu) fail(step, 'no-such-gpu', `${placement.minerHotkey}/${gpuIndex}`);
        else if (gpu.holder !== null)
          fail(step, 'double-booked', `${placement.minerHotkey}/${gpuIndex} held by ${gpu.holder}`);
        else if (!classFits(gpu, requirement.gpu)) fail(step, 'gpu-unfit', `${gpu.gpuType}/${gpu.memoryMiB}`);
        else gpu.holder = instanceId;
      }
      miner.instances.add(instanceId);
      index.reserve(placement);
      instances.set(instanceId, { deployment, placement });
    } else if (roll < 0.85 && instances.size > 0) {
      const ids = [...instances.keys()];
      const instanceId = ids[Math.floor(random() * ids.length)] as string;
      const { placement } = instances.get(instanceId)!;
      instances.delete(instanceId);
      const miner = miners.get(placement.minerHotkey);
      if (miner) {
        for (const gpu of miner.gpus) if (gpu.holder === instanceId) gpu.holder = null;
        miner.instances.delete(instanceId);
        index.release(placement);
      }
    } else if (roll < 0.93 && miners.size > 1) {
      const hotkeys = [...miners.keys()];
      const hotkey = hotkeys[Math.floor(random() * hotkeys.length)] as string;
      miners.delete(hotkey);
      index.removeMiner(hotkey);
      for (const [instanceId, instance] of instances) {
        if (instance.placement.minerHotkey === hotkey) instances.delete(instanceId);
      }
    } else {
      const [miner] = randomFleet(random, 1, { maxGpus: 8, prefix: `late-${nextMiner++}` });
      if (miner) {
        miners.set(miner.hotkey, miner);
        index.upsertMiner(fleetMinerOf(miner));
      }
    }
    for (const miner of miners.values()) {
      const modelFree = miner.gpus.filter((gpu) => gpu.holder === null).map((gpu) => gpu.index);
      const indexFree = index.freeGpus(miner.hotkey);
      if (modelFree.join(',') !== indexFree.join(',')) {
        fail(
          step,
          'free-gpus-drift',
          `${miner.hotkey}: model ${modelFree.join(',')} index ${indexFree.join(',')}`,
        );
      }
      if (miner.instances.size > miner.maxInstances) fail(step, 'slots-exceeded', miner.hotkey);
    }
  }
  return violations;
}
