import { type EngineName } from '@tessera/contracts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bestByScan,
  fleetMinerOf,
  simulatePlacement,
  type ModelMiner,
} from './__tests__/placement-simulation.js';
import { FleetIndex, planPlacements, seededRandom, type PlacementRequest } from './fleet-index.js';

const gpuClassArb = fc.constantFrom(
  { gpuType: 'h100-80gb-hbm3', memoryMiB: 81_559 },
  { gpuType: 'a100-sxm4-40gb', memoryMiB: 40_960 },
  { gpuType: 'rtx-4090', memoryMiB: 24_564 },
);
const engineArb = fc.constantFrom<EngineName>('vllm', 'llama', 'sglang');

const minerArb = fc
  .record({
    coldkey: fc.integer({ min: 0, max: 5 }),
    engines: fc.uniqueArray(engineArb, { minLength: 1, maxLength: 3 }),
    gpus: fc.array(fc.record({ gpuClass: gpuClassArb, busy: fc.boolean() }), { minLength: 1, maxLength: 8 }),
    extraSlots: fc.integer({ min: 0, max: 8 }),
    slotsUsed: fc.integer({ min: 0, max: 3 }),
  })
  .map((miner) => miner);

const fleetArb = fc.array(minerArb, { minLength: 1, maxLength: 30 }).map((miners) =>
  miners.map((miner, n): ModelMiner => ({
    hotkey: `m${n}`,
    coldkey: `c${miner.coldkey}`,
    engines: miner.engines,
    maxInstances: miner.slotsUsed + 1 + miner.extraSlots,
    gpus: miner.gpus.map((gpu, index) => ({ index, ...gpu.gpuClass, holder: gpu.busy ? 'other' : null })),
    instances: new Set(Array.from({ length: miner.slotsUsed }, (_, k) => `other-${k}`)),
  })),
);

const requirementArb = fc.record({
  engine: engineArb,
  gpu: fc.record({
    count: fc.integer({ min: 1, max: 4 }),
    minVramMiB: fc.constantFrom(0, 30_000, 50_000),
    allowedTypes: fc.constantFrom<string[]>([], ['h100'], ['a100', 'rtx']),
    excludedTypes: fc.constantFrom<string[]>([], ['rtx-4090']),
  }),
});

const fresh = (requirement: Pick<PlacementRequest, 'engine' | 'gpu'>): PlacementRequest => ({
  ...requirement,
  replicaMiners: new Set(),
  replicaColdkeys: new Set(),
});

describe('placement (pure function over a fleet snapshot)', () => {
  it('never double-books a GPU, never exceeds capacity, and always takes the best spread and fit a full scan finds, over random operation sequences', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
        expect(simulatePlacement(seed, { miners: 10, steps: 50 })).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it('places each replica on GPUs that fit, all on one miner, free before, with a free instance slot', () => {
    fc.assert(
      fc.property(
        fleetArb,
        requirementArb,
        fc.integer({ min: 1, max: 6 }),
        fc.integer(),
        (fleet, requirement, replicas, seed) => {
          const placements = planPlacements(fleet.map(fleetMinerOf), fresh(requirement), replicas, seed);
          const taken = new Set<string>();
          const instancesPerMiner = new Map<string, number>();
          for (const placement of placements) {
            const miner = fleet.find((candidate) => candidate.hotkey === placement.minerHotkey)!;
            expect(miner.engines).toContain(requirement.engine);
            expect(placement.gpus).toHaveLength(requirement.gpu.count);
            for (const index of placement.gpus) {
              const gpu = miner.gpus[index]!;
              expect(gpu.holder).toBeNull();
              expect([gpu.gpuType, gpu.memoryMiB]).toEqual([placement.gpuType, placement.memoryMiB]);
              expect(gpu.memoryMiB).toBeGreaterThanOrEqual(requirement.gpu.minVramMiB);
              expect(taken.has(`${miner.hotkey}/${index}`)).toBe(false);
              taken.add(`${miner.hotkey}/${index}`);
            }
            instancesPerMiner.set(miner.hotkey, (instancesPerMiner.get(miner.hotkey) ?? 0) + 1);
            expect(miner.instances.size + instancesPerMiner.get(miner.hotkey)!).toBeLessThanOrEqual(
              miner.maxInstances,
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('puts replicas on distinct miners whenever enough miners fit, and on distinct coldkeys first', () => {
    fc.assert(
      fc.property(
        fleetArb,
        requirementArb,
        fc.integer({ min: 1, max: 6 }),
        fc.integer(),
        (fleet, requirement, replicas, seed) => {
          const fitting = fleet.filter((miner) => bestByScan([miner], fresh(requirement)) !== undefined);
          const placements = planPlacements(fleet.map(fleetMinerOf), fresh(requirement), replicas, seed);
          if (fitting.length >= replicas) {
            expect(placements).toHaveLength(replicas);
            expect(new Set(placements.map((placement) => placement.minerHotkey)).size).toBe(replicas);
          }
          const coldkeysFitting = new Set(fitting.map((miner) => miner.coldkey)).size;
          const coldkeysUsed = new Set(placements.map((placement) => placement.coldkey)).size;
          expect(coldkeysUsed).toBe(Math.min(coldkeysFitting, placements.length));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('gives the same placements for the same fleet, request and seed', () => {
    fc.assert(
      fc.property(fleetArb, requirementArb, fc.integer(), (fleet, requirement, seed) => {
        const first = planPlacements(fleet.map(fleetMinerOf), fresh(requirement), 3, seed);
        const second = planPlacements(fleet.map(fleetMinerOf), fresh(requirement), 3, seed);
        expect(second).toEqual(first);
      }),
      { numRuns: 100 },
    );
  });

  it('bin-packs: among equally spread miners, the one left with the fewest free GPUs', () => {
    const miner = (hotkey: string, coldkey: string, free: number): ModelMiner => ({
      hotkey,
      coldkey,
      engines: ['vllm'],
      maxInstances: 8,
      gpus: Array.from({ length: 8 }, (_, index) => ({
        index,
        gpuType: 'h100',
        memoryMiB: 80_000,
        holder: index < 8 - free ? 'other' : null,
      })),
      instances: new Set(),
    });
    const fleet = [miner('roomy', 'a', 8), miner('snug', 'b', 2), miner('tight', 'c', 1)];
    const [placement] = planPlacements(
      fleet.map(fleetMinerOf),
      fresh({ engine: 'vllm', gpu: { count: 2, minVramMiB: 0, allowedTypes: [], excludedTypes: [] } }),
      1,
      7,
    );
    expect(placement).toMatchObject({ minerHotkey: 'snug', gpus: [6, 7], freeAfter: 0, spread: 0 });
  });

  it('skips excluded miners and refuses when nothing fits', () => {
    const fleet: ModelMiner[] = [
      {
        hotkey: 'only',
        coldkey: 'c',
        engines: ['llama'],
        maxInstances: 1,
        gpus: [{ index: 0, gpuType: 'cpu', memoryMiB: 0, holder: null }],
        instances: new Set(),
      },
    ];
    const index = FleetIndex.from(fleet.map(fleetMinerOf));
    const request = fresh({
      engine: 'llama',
      gpu: { count: 1, minVramMiB: 0, allowedTypes: [], excludedTypes: [] },
    });
    expect(index.place({ ...request, excludedMiners: new Set(['only']) }, seededRandom(1))).toBeUndefined();
    const placement = index.place(request, seededRandom(1));
    expect(placement?.minerHotkey).toBe('only');
    index.reserve(placement!);
    expect(index.place(request, seededRandom(1))).toBeUndefined();
    index.release(placement!);
    expect(index.place(request, seededRandom(1))?.gpus).toEqual([0]);
  });
});
