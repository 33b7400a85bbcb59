import type { Clock } from '@tessera/contracts';

/** A {@link Clock} that only moves when a test moves it. */
export class FakeClock implements Clock {
  private current: number;

  /** Starts at `start` (default 2025-01-01T00:00:00Z, so test output is stable). */
  constructor(start: Date | string | number = '2025-01-01T00:00:00.000Z') {
    this.current = new Date(start).getTime();
  }

  /** A fresh `Date` each call, so callers mutating it cannot move the clock. */
  now(): Date {
    return new Date(this.current);
  }

  /** Moves time forward by `ms` (negative values are refused: time in the domain never goes back). */
  advance(ms: number): Date {
    if (ms < 0 || !Number.isFinite(ms))
      throw new RangeError(`advance() takes a finite, non-negative ms, got ${ms}`);
    this.current += ms;
    return this.now();
  }

  /** Jumps to `date`, backwards included: for tests of clock skew. */
  set(date: Date | string | number): void {
    const next = new Date(date).getTime();
    if (Number.isNaN(next)) throw new RangeError(`set() got an invalid date: ${String(date)}`);
    this.current = next;
  }
}
