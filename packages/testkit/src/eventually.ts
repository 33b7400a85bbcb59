import { setTimeout as sleep } from 'node:timers/promises';

/** Options for {@link eventually}. */
export interface EventuallyOptions<T> {
  /** Give up after this long. Default 60 s: the suites wait on real processes. */
  timeoutMs?: number;
  /** Time between two reads. Default 100 ms. */
  intervalMs?: number;
  /** Accepts a value read; without it, any value but `undefined` and `false` is accepted. */
  until?: (value: T) => boolean;
}

/**
 * Reads until the value is there, for tests that wait on other processes: `read` is called every
 * `intervalMs` until it returns an accepted value, which is returned. `undefined` and `false` mean
 * "not yet" (so a condition can be polled as is), unless `until` decides. A read that throws is
 * read again; at the deadline this throws, naming `what` and the last error.
 */
export async function eventually<T>(
  read: () => Promise<T | undefined> | T | undefined,
  what: string | (() => string),
  options: EventuallyOptions<T> = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await read();
      const accepted = options.until
        ? value !== undefined && options.until(value)
        : value !== undefined && value !== false;
      if (accepted) return value as T;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const label = typeof what === 'string' ? what : what();
      throw new Error(
        `${label}: not within ${timeoutMs} ms${lastError === undefined ? '' : ` (last error: ${String(lastError)})`}`,
      );
    }
    await sleep(options.intervalMs ?? 100);
  }
}
