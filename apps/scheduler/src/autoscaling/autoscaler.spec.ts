import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decideScale, type AutoscaleInput, type AutoscalerSettings } from './autoscaler.js';
import { DemandBook } from './demand-book.js';

const settings: AutoscalerSettings = {
  scaleUpUtilisation: 0.5,
  scaleDownUtilisation: 0.2,
  maxScaleUpStep: 2,
  minInstanceAgeMs: 60_000,
  scaleDownCooldownMs: 30_000,
};
const NOW = 1_000_000_000;
const input = (overrides: Partial<AutoscaleInput> = {}): AutoscaleInput => ({
  targetReplicas: 2,
  minReplicas: 0,
  maxReplicas: 10,
  concurrency: 10,
  scaleToZeroAfterMs: 300_000,
  demand: { inFlight: 6, queued: 0, requests: 30, rejectedForCapacity: 0 },
  lastActiveAt: NOW,
  youngestReadyAgeMs: 600_000,
  lastScaledAt: undefined,
  now: NOW,
  ...overrides,
});
const load = (inFlight: number, queued = 0) => ({
  inFlight,
  queued,
  requests: inFlight + queued,
  rejectedForCapacity: 0,
});

describe('autoscaler', () => {
  it('scales up above half of the capacity, by at most the step', () => {
    expect(decideScale(input({ demand: load(11) }), settings)).toEqual({ toReplicas: 3, reason: 'demand' });
    expect(decideScale(input({ demand: load(60, 40) }), settings)).toEqual({
      toReplicas: 4,
      reason: 'demand',
    });
    expect(decideScale(input({ demand: load(500), maxReplicas: 3 }), settings)).toEqual({
      toReplicas: 3,
      reason: 'demand',
    });
    expect(decideScale(input({ targetReplicas: 10, demand: load(500) }), settings)).toBeUndefined();
  });

  it('scales up when requests were refused for capacity, whatever the utilisation', () => {
    const refused = { inFlight: 1, queued: 0, requests: 5, rejectedForCapacity: 2 };
    expect(decideScale(input({ demand: refused }), settings)).toEqual({ toReplicas: 3, reason: 'demand' });
  });

  it('holds between the two thresholds (hysteresis)', () => {
    for (const inFlight of [4, 6, 10])
      expect(decideScale(input({ demand: load(inFlight) }), settings)).toBeUndefined();
  });

  it('scales down by one below a fifth of the capacity, after the minimum age and the cool-down', () => {
    expect(decideScale(input({ demand: load(3) }), settings)).toEqual({
      toReplicas: 1,
      reason: 'low-utilisation',
    });
    expect(decideScale(input({ demand: load(3), youngestReadyAgeMs: 10_000 }), settings)).toBeUndefined();
    expect(decideScale(input({ demand: load(3), lastScaledAt: NOW - 5_000 }), settings)).toBeUndefined();
    expect(
      decideScale(input({ demand: load(0), targetReplicas: 1, minReplicas: 0 }), settings),
    ).toBeUndefined();
    expect(decideScale(input({ demand: load(3), minReplicas: 2 }), settings)).toBeUndefined();
  });

  it('goes to zero after the idle time when minReplicas is 0, and not before', () => {
    const idle = { demand: undefined, targetReplicas: 1, lastActiveAt: NOW - 300_000 };
    expect(decideScale(input(idle), settings)).toEqual({ toReplicas: 0, reason: 'idle' });
    expect(decideScale(input({ ...idle, lastActiveAt: NOW - 299_000 }), settings)).toBeUndefined();
    expect(decideScale(input({ ...idle, minReplicas: 1 }), settings)).toBeUndefined();
    expect(decideScale(input({ ...idle, demand: load(0, 1) }), settings)).toBeUndefined();
  });

  it('comes back from zero the moment demand appears', () => {
    expect(decideScale(input({ targetReplicas: 0, demand: load(0, 1) }), settings)).toEqual({
      toReplicas: 1,
      reason: 'scale-from-zero',
    });
    expect(decideScale(input({ targetReplicas: 0, demand: undefined }), settings)).toBeUndefined();
  });

  it('keeps the target within [minReplicas, maxReplicas] (or 0 when allowed) and moves it by bounded steps', () => {
    const totals = fc.record({
      inFlight: fc.nat(1_000),
      queued: fc.nat(1_000),
      requests: fc.nat(1_000),
      rejectedForCapacity: fc.nat(5),
    });
    fc.assert(
      fc.property(
        fc.nat(20),
        fc.nat(20),
        fc.integer({ min: 1, max: 64 }),
        fc.option(totals, { nil: undefined }),
        fc.nat(1_000_000),
        (min, span, concurrency, demand, idleMs) => {
          const max = Math.max(1, min + span);
          for (const target of [0, min, Math.min(max, min + 1), max]) {
            const decision = decideScale(
              input({
                minReplicas: min,
                maxReplicas: max,
                targetReplicas: target,
                concurrency,
                demand,
                lastActiveAt: NOW - idleMs,
              }),
              settings,
            );
            if (!decision) continue;
            const to = decision.toReplicas;
            expect(to === 0 ? min === 0 : to >= Math.max(1, min) && to <= max).toBe(true);
            if (target > 0 && to > target) expect(to - target).toBeLessThanOrEqual(settings.maxScaleUpStep);
            if (to < target && to > 0) expect(target - to).toBe(1);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('demand book', () => {
  const report = (source: string, windowStart: number, inFlight: number) => ({
    deploymentId: 'dep-1',
    source,
    windowStart: new Date(windowStart).toISOString(),
    windowMs: 5_000,
    inFlight,
    queued: 0,
    requests: inFlight,
    rejectedForCapacity: 0,
  });

  it('sums the latest window of each proxy replica and forgets stale ones', () => {
    const book = new DemandBook(10_000);
    book.record(report('a', NOW, 3));
    book.record(report('a', NOW - 5_000, 100));
    book.record(report('b', NOW, 4));
    expect(book.totals('dep-1', NOW + 5_000)?.inFlight).toBe(7);
    expect(book.totals('dep-1', NOW + 16_000)).toBeUndefined();
    expect(book.totals('dep-2', NOW)).toBeUndefined();
  });

  it('remembers when a deployment last showed activity', () => {
    const book = new DemandBook(10_000);
    expect(book.record(report('a', NOW, 0))).toBe(false);
    expect(book.lastActiveAt('dep-1')).toBeUndefined();
    expect(book.record(report('a', NOW + 5_000, 1))).toBe(true);
    expect(book.lastActiveAt('dep-1')).toBe(NOW + 10_000);
  });
});
