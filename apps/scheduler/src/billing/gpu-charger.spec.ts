import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { completeIntervals } from './gpu-charger.js';

describe('GPU charge intervals', () => {
  it('counts only intervals that ended while the instance is still ready', () => {
    const readyAt = 1_000_500;
    expect(completeIntervals(readyAt, null, readyAt + 59_999, 60_000)).toEqual([]);
    expect(completeIntervals(readyAt, null, readyAt + 125_000, 60_000)).toEqual([
      { index: 0, seconds: 60 },
      { index: 1, seconds: 60 },
    ]);
  });

  it('closes the last partial interval when the instance stopped', () => {
    const readyAt = 5_250;
    expect(completeIntervals(readyAt, readyAt + 61_700, readyAt + 900_000, 60_000)).toEqual([
      { index: 0, seconds: 60 },
      { index: 1, seconds: 1 },
    ]);
    expect(completeIntervals(readyAt, readyAt + 400, readyAt + 900_000, 60_000)).toEqual([
      { index: 0, seconds: 0 },
    ]);
  });

  it('adds up to exactly the whole seconds between ready and end, however the intervals fall', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: 0, max: 2_000_000 }),
        fc.integer({ min: 1, max: 600 }),
        (readyAt, upMs, intervalSeconds) => {
          const intervals = completeIntervals(
            readyAt,
            readyAt + upMs,
            readyAt + upMs,
            intervalSeconds * 1_000,
          );
          const total = intervals.reduce((sum, interval) => sum + interval.seconds, 0);
          expect(total).toBe(Math.floor(upMs / 1_000));
          expect(intervals.map((interval) => interval.index)).toEqual(intervals.map((_, index) => index));
          for (const interval of intervals) expect(interval.seconds).toBeLessThanOrEqual(intervalSeconds);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('never charges a live interval twice as time passes: earlier intervals stay the same', () => {
    const early = completeIntervals(0, null, 180_000, 60_000);
    const later = completeIntervals(0, null, 420_000, 60_000);
    expect(later.slice(0, early.length)).toEqual(early);
  });
});
