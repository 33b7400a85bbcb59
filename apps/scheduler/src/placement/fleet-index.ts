import { gpuTypeMatches, type EngineName, type GpuRequirements } from '@tessera/contracts';

/** One GPU of a miner, as placement sees it. */
export interface FleetGpu {
  readonly index: number;
  /** Normalised type (`normalizeGpuType`). */
  readonly gpuType: string;
  readonly memoryMiB: number;
  /** Free on the miner and not promised to an instance the scheduler placed. */
  readonly free: boolean;
}

/** A miner that may take instances: healthy, polled, registered. */
export interface FleetMiner {
  readonly hotkey: string;
  readonly coldkey: string;
  readonly engines: readonly EngineName[];
  /** Instances it may still start: its `maxInstances` minus those it runs or was sent. */
  readonly slotsFree: number;
  readonly gpus: readonly FleetGpu[];
}

/** What one replica of a deployment needs, and where its siblings already are. */
export interface PlacementRequest {
  readonly engine: EngineName;
  readonly gpu: GpuRequirements;
  /** Miners already running a replica of the deployment. */
  readonly replicaMiners: ReadonlySet<string>;
  /** The coldkeys of those miners. */
  readonly replicaColdkeys: ReadonlySet<string>;
  /** Miners not to use now (e.g. one that just refused a launch). */
  readonly excludedMiners?: ReadonlySet<string>;
}

/** How well a placement spreads the deployment: lower is better. */
export type Spread =
  /** A miner whose coldkey holds no replica of the deployment. */
  | 0
  /** A new miner, but of a coldkey that already holds a replica. */
  | 1
  /** A miner that already runs a replica (only when no other miner fits). */
  | 2;

/** Where one replica goes. */
export interface Placement {
  readonly minerHotkey: string;
  readonly coldkey: string;
  readonly gpuType: string;
  readonly memoryMiB: number;
  /** GPU indexes on the miner, ascending. */
  readonly gpus: readonly number[];
  readonly spread: Spread;
  /** GPUs of that type left free on the miner afterwards: lower packs tighter. */
  readonly freeAfter: number;
}

/** A uniform random number in [0, 1): `Math.random`, or a seeded generator for reproducible choices. */
export type RandomSource = () => number;

/** A deterministic generator for a seed (mulberry32: tiny, fast, good enough for tie-breaks). */
export function seededRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A set with O(1) add, delete and access by position, so a random member costs O(1). */
class IndexedSet {
  private readonly items: string[] = [];
  private readonly positions = new Map<string, number>();

  get size(): number {
    return this.items.length;
  }

  at(position: number): string {
    return this.items[position] as string;
  }

  add(item: string): void {
    if (this.positions.has(item)) return;
    this.positions.set(item, this.items.length);
    this.items.push(item);
  }

  delete(item: string): void {
    const position = this.positions.get(item);
    if (position === undefined) return;
    const last = this.items.pop() as string;
    this.positions.delete(item);
    if (last !== item) {
      this.items[position] = last;
      this.positions.set(last, position);
    }
  }
}

/** The GPUs of one type and memory size: the index's unit ("GPU class"). */
interface GpuClass {
  readonly key: string;
  readonly gpuType: string;
  readonly memoryMiB: number;
  /**
   * `byFree[n].get(engine)`: miners offering `engine` with exactly n free GPUs of this class and
   * a free instance slot. Keyed by engine too, so a request for an engine few miners offer does
   * not sample (and then scan) miners that cannot take it.
   */
  readonly byFree: Map<EngineName, IndexedSet>[];
}

interface MinerEntry {
  readonly hotkey: string;
  readonly coldkey: string;
  readonly engines: ReadonlySet<EngineName>;
  slotsFree: number;
  /** Free GPU indexes per class, ascending. */
  readonly freeByClass: Map<string, number[]>;
  /** The class of each GPU index. */
  readonly classOfGpu: Map<number, string>;
  /** The bucket (free count) the miner sits in, per class. */
  readonly buckets: Map<string, number>;
}

const classKeyOf = (gpuType: string, memoryMiB: number): string => `${gpuType}|${memoryMiB}`;

/** Below this many candidates a bucket is scanned instead of sampled. */
const SCAN_BELOW = 32;
/** Random draws before falling back to a scan (only when most candidates are unsuitable). */
const SAMPLE_TRIES = 16;

/**
 * The fleet indexed by GPU class, free-GPU count and engine, so one placement decision looks at a few
 * buckets instead of every miner: its cost stays flat as the fleet grows. The rules (filter, then
 * spread across miners and coldkeys, then bin-pack, seeded tie-break) are those of
 * {@link placeReplicas}; `reserve` and `release` keep the index in step with decisions.
 */
export class FleetIndex {
  private readonly miners = new Map<string, MinerEntry>();
  private readonly classes = new Map<string, GpuClass>();

  static from(miners: Iterable<FleetMiner>): FleetIndex {
    const index = new FleetIndex();
    for (const miner of miners) index.upsertMiner(miner);
    return index;
  }

  get minerCount(): number {
    return this.miners.size;
  }

  has(hotkey: string): boolean {
    return this.miners.has(hotkey);
  }

  /** Adds a miner, or replaces what the index knew of it. */
  upsertMiner(miner: FleetMiner): void {
    this.removeMiner(miner.hotkey);
    const entry: MinerEntry = {
      hotkey: miner.hotkey,
      coldkey: miner.coldkey,
      engines: new Set(miner.engines),
      slotsFree: Math.max(0, miner.slotsFree),
      freeByClass: new Map(),
      classOfGpu: new Map(),
      buckets: new Map(),
    };
    for (const gpu of miner.gpus) {
      const key = classKeyOf(gpu.gpuType, gpu.memoryMiB);
      if (!this.classes.has(key)) {
        this.classes.set(key, { key, gpuType: gpu.gpuType, memoryMiB: gpu.memoryMiB, byFree: [] });
      }
      entry.classOfGpu.set(gpu.index, key);
      const free = entry.freeByClass.get(key) ?? [];
      if (gpu.free) free.push(gpu.index);
      entry.freeByClass.set(key, free);
    }
    for (const free of entry.freeByClass.values()) free.sort((a, b) => a - b);
    this.miners.set(miner.hotkey, entry);
    this.rebucket(entry);
  }

  removeMiner(hotkey: string): void {
    const entry = this.miners.get(hotkey);
    if (!entry) return;
    this.unbucket(entry);
    this.miners.delete(hotkey);
  }

  /** The coldkey of an indexed miner. */
  coldkeyOf(hotkey: string): string | undefined {
    return this.miners.get(hotkey)?.coldkey;
  }

  /** Free GPU indexes of a miner, ascending (tests and invariant checks). */
  freeGpus(hotkey: string): number[] {
    const entry = this.miners.get(hotkey);
    if (!entry) return [];
    return [...entry.freeByClass.values()].flat().sort((a, b) => a - b);
  }

  /** Free instance slots of a miner. */
  slotsFree(hotkey: string): number {
    return this.miners.get(hotkey)?.slotsFree ?? 0;
  }

  /**
   * The best place for one replica, or undefined when no miner fits. Best is the lowest
   * (spread, GPUs left free of the chosen class); ties are broken with `random`.
   */
  place(request: PlacementRequest, random: RandomSource): Placement | undefined {
    const count = request.gpu.count;
    const classes = [...this.classes.values()].filter((gpuClass) => classFits(gpuClass, request.gpu));
    let maxFree = 0;
    for (const gpuClass of classes) maxFree = Math.max(maxFree, gpuClass.byFree.length - 1);
    for (const spread of [0, 1, 2] as const) {
      for (let free = count; free <= maxFree; free++) {
        const sets: { gpuClass: GpuClass; members: IndexedSet }[] = [];
        for (const gpuClass of classes) {
          const members = gpuClass.byFree[free]?.get(request.engine);
          if (members && members.size > 0) sets.push({ gpuClass, members });
        }
        if (sets.length === 0) continue;
        const found = this.pick(sets, (entry) => this.suits(entry, request, spread), random);
        if (!found) continue;
        const freeGpus = found.entry.freeByClass.get(found.gpuClass.key) ?? [];
        return {
          minerHotkey: found.entry.hotkey,
          coldkey: found.entry.coldkey,
          gpuType: found.gpuClass.gpuType,
          memoryMiB: found.gpuClass.memoryMiB,
          gpus: freeGpus.slice(0, count),
          spread,
          freeAfter: free - count,
        };
      }
    }
    return undefined;
  }

  /** Takes the placement's GPUs and one instance slot of its miner. */
  reserve(placement: Pick<Placement, 'minerHotkey' | 'gpus'>): void {
    const entry = this.miners.get(placement.minerHotkey);
    if (!entry) throw new RangeError(`miner ${placement.minerHotkey} is not in the index`);
    for (const gpu of placement.gpus) {
      const key = entry.classOfGpu.get(gpu);
      const free = key === undefined ? undefined : entry.freeByClass.get(key);
      const position = free?.indexOf(gpu) ?? -1;
      if (!free || position < 0) throw new RangeError(`GPU ${gpu} of ${placement.minerHotkey} is not free`);
      free.splice(position, 1);
    }
    entry.slotsFree = Math.max(0, entry.slotsFree - 1);
    this.rebucket(entry);
  }

  /** Gives a placement's GPUs and slot back (its instance ended). */
  release(placement: Pick<Placement, 'minerHotkey' | 'gpus'>): void {
    const entry = this.miners.get(placement.minerHotkey);
    if (!entry) return;
    for (const gpu of placement.gpus) {
      const key = entry.classOfGpu.get(gpu);
      const free = key === undefined ? undefined : entry.freeByClass.get(key);
      if (!free || free.includes(gpu)) continue;
      free.push(gpu);
      free.sort((a, b) => a - b);
    }
    entry.slotsFree += 1;
    this.rebucket(entry);
  }

  private suits(entry: MinerEntry, request: PlacementRequest, spread: Spread): boolean {
    if (request.excludedMiners?.has(entry.hotkey) || !entry.engines.has(request.engine)) return false;
    const level: Spread = request.replicaMiners.has(entry.hotkey)
      ? 2
      : request.replicaColdkeys.has(entry.coldkey)
        ? 1
        : 0;
    return level === spread;
  }

  /**
   * A uniformly random member of the given buckets that passes `suits`: a few random draws
   * first (most members pass), then a scan, so the result is the same for the same seed.
   */
  private pick(
    sets: readonly { gpuClass: GpuClass; members: IndexedSet }[],
    suits: (entry: MinerEntry) => boolean,
    random: RandomSource,
  ): { entry: MinerEntry; gpuClass: GpuClass } | undefined {
    let total = 0;
    for (const set of sets) total += set.members.size;
    if (total >= SCAN_BELOW) {
      for (let attempt = 0; attempt < SAMPLE_TRIES; attempt++) {
        let position = Math.floor(random() * total);
        for (const set of sets) {
          if (position < set.members.size) {
            const entry = this.miners.get(set.members.at(position)) as MinerEntry;
            if (suits(entry)) return { entry, gpuClass: set.gpuClass };
            break;
          }
          position -= set.members.size;
        }
      }
    }
    const suitable: { entry: MinerEntry; gpuClass: GpuClass }[] = [];
    for (const set of sets) {
      for (let position = 0; position < set.members.size; position++) {
        const entry = this.miners.get(set.members.at(position)) as MinerEntry;
        if (suits(entry)) suitable.push({ entry, gpuClass: set.gpuClass });
      }
    }
    if (suitable.length === 0) return undefined;
    return suitable[Math.floor(random() * suitable.length)];
  }

  private unbucket(entry: MinerEntry): void {
    for (const [key, free] of entry.buckets) {
      const bucket = this.classes.get(key)?.byFree[free];
      for (const engine of entry.engines) bucket?.get(engine)?.delete(entry.hotkey);
    }
    entry.buckets.clear();
  }

  /** Puts the miner in the bucket of each class it has free GPUs of (none without a free slot). */
  private rebucket(entry: MinerEntry): void {
    this.unbucket(entry);
    if (entry.slotsFree <= 0) return;
    for (const [key, free] of entry.freeByClass) {
      if (free.length === 0) continue;
      const gpuClass = this.classes.get(key) as GpuClass;
      while (gpuClass.byFree.length <= free.length) gpuClass.byFree.push(new Map());
      const bucket = gpuClass.byFree[free.length] as Map<EngineName, IndexedSet>;
      for (const engine of entry.engines) {
        let members = bucket.get(engine);
        if (!members) bucket.set(engine, (members = new IndexedSet()));
        members.add(entry.hotkey);
      }
      entry.buckets.set(key, free.length);
    }
  }
}

/** Whether a GPU class meets a deployment's type and memory requirements. */
export function classFits(gpuClass: { gpuType: string; memoryMiB: number }, gpu: GpuRequirements): boolean {
  if (gpuClass.memoryMiB < gpu.minVramMiB) return false;
  if (
    gpu.allowedTypes.length > 0 &&
    !gpu.allowedTypes.some((type) => gpuTypeMatches(gpuClass.gpuType, type))
  ) {
    return false;
  }
  return !gpu.excludedTypes.some((type) => gpuTypeMatches(gpuClass.gpuType, type));
}

/**
 * Places up to `replicas` replicas one after another on `index` (reserving as it goes), each
 * seeing the ones before it as siblings. Fewer come back when the fleet runs out.
 */
export function placeReplicas(
  index: FleetIndex,
  request: PlacementRequest,
  replicas: number,
  random: RandomSource,
): Placement[] {
  const replicaMiners = new Set(request.replicaMiners);
  const replicaColdkeys = new Set(request.replicaColdkeys);
  const placements: Placement[] = [];
  for (let n = 0; n < replicas; n++) {
    const placement = index.place({ ...request, replicaMiners, replicaColdkeys }, random);
    if (!placement) break;
    index.reserve(placement);
    replicaMiners.add(placement.minerHotkey);
    replicaColdkeys.add(placement.coldkey);
    placements.push(placement);
  }
  return placements;
}

/**
 * Placement as a pure function: the same fleet, request and seed give the same placements.
 * Filter (engine, GPU type and memory, free GPUs on one miner, free instance slot, exclusions),
 * then prefer miners and coldkeys without a replica, then the tightest fit, then the seed.
 */
export function planPlacements(
  fleet: readonly FleetMiner[],
  request: PlacementRequest,
  replicas: number,
  seed: number,
): Placement[] {
  return placeReplicas(FleetIndex.from(fleet), request, replicas, seededRandom(seed));
}
