/**
 * Time as the domain sees it. Domain code takes a Clock instead of calling `Date.now()`,
 * so tests can use a fake one.
 */
export interface Clock {
  now(): Date;
}

/** The wall clock. */
export const systemClock: Clock = { now: () => new Date() };
