import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/** Header that carries the correlation id, on HTTP requests and NATS messages alike. */
export const CORRELATION_ID_HEADER = 'x-correlation-id';

interface CorrelationScope {
  readonly correlationId: string;
}

// AsyncLocalStorage rather than a parameter: handlers, repositories and the logger all see the
// id of the request they run for without threading it through every call.
const storage = new AsyncLocalStorage<CorrelationScope>();

/** Runs `fn` with `correlationId` as the current correlation id (for logs and outgoing calls). */
export function runWithCorrelationId<T>(correlationId: string, fn: () => T): T {
  return storage.run({ correlationId }, fn);
}

/** The correlation id of the current request or message, if any. */
export function currentCorrelationId(): string | undefined {
  return storage.getStore()?.correlationId;
}

/** A fresh correlation id for work that did not arrive with one. */
export function newCorrelationId(): string {
  return randomUUID();
}

/**
 * Accepts an id received from outside only when it looks like an id: a client must not be able to
 * inject newlines or megabytes into every log line.
 */
export function sanitizeCorrelationId(value: string | undefined | null): string | undefined {
  if (value === undefined || value === null) return undefined;
  return /^[A-Za-z0-9._:-]{1,128}$/.test(value) ? value : undefined;
}
