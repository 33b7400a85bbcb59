import { type Clock } from '@tessera/contracts';

/** Injection token of the domain clock (FakeClock in tests). */
export const CLOCK = Symbol.for('tessera.billing.clock');
export type { Clock };

/** The UTC day of a time, `YYYY-MM-DD`. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}
