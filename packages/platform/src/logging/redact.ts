import { stdSerializers } from 'pino';

/** What replaces a secret value in a log line. */
export const REDACTED = '[Redacted]';

/**
 * Key names whose values never reach a log line, at any depth. pino's own `redact` takes exact
 * paths; secrets here turn up under many shapes (`config.NATS_SEED`, `headers.authorization`,
 * `details.apiKey`), so we match on the key name instead.
 */
const SECRET_KEY = /secret|passw(or)?d|seed|token|authorization|api[-_]?key|mnemonic|private[-_]?key|cookie/i;

/** True when a value under this key must be redacted. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/**
 * A copy of `value` with every secret-named key's value replaced; errors become plain objects
 * (pino's error serializer shape) so their `details` are redacted too. Cycles and very deep
 * structures are cut off rather than followed.
 */
export function redactSecrets(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth > 8) return '[Truncated]';
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  if (value instanceof Error) {
    return redactSecrets(stdSerializers.err(value), depth, seen);
  }
  if (Array.isArray(value)) {
    return value.map((item) => redactSecrets(item, depth + 1, seen));
  }
  if (value instanceof Date || Buffer.isBuffer(value)) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    copy[key] = isSecretKey(key) ? REDACTED : redactSecrets(field, depth + 1, seen);
  }
  return copy;
}

/** Redacts `user:password@` in URLs (database and NATS URLs are logged at start-up). */
export function redactUrlCredentials(url: string): string {
  return url.replace(/\/\/([^/@:]*):([^/@]*)@/, `//$1:${REDACTED}@`);
}
