import { stdSerializers } from 'pino';

/** What replaces a secret value in a log line. */
export const REDACTED = '[Redacted]';

/**
 * Key names whose values never reach a log line, at any depth. pino's own `redact` takes exact
 * paths; secrets here turn up under many shapes (`config.NATS_SEED`, `headers.authorization`,
 * `details.apiKey`), so we match on the key name instead.
 */
const SECRET_KEY = /secret|passw(or)?d|seed|token|authorization|api[-_]?key|mnemonic|private[-_]?key|cookie/i;

/**
 * The longest string a log line carries; longer ones are cut to this and marked with their
 * length. A value that reached the logger unchecked (a 900,000-digit cursor in an error message,
 * a whole request body) must not turn one line into megabytes.
 */
export const MAX_LOGGED_STRING_LENGTH = 2_000;

/** A string as a log line may carry it. */
export function capString(value: string): string {
  return value.length <= MAX_LOGGED_STRING_LENGTH
    ? value
    : `${value.slice(0, MAX_LOGGED_STRING_LENGTH)}… [${value.length} characters]`;
}

/** True when a value under this key must be redacted. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/** Entries of one array or object a log line carries; the rest are counted, not printed. */
export const MAX_LOGGED_ENTRIES = 100;

/**
 * A copy of `value` with every secret-named key's value replaced and every string, array and
 * object capped in size; errors become plain objects (pino's error serializer shape) so their
 * `details` are redacted too. Cycles and very deep structures are cut off rather than followed.
 */
export function redactSecrets(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof value === 'string') return capString(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 8) return '[Truncated]';
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  if (value instanceof Error) {
    return redactSecrets(stdSerializers.err(value), depth, seen);
  }
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_LOGGED_ENTRIES).map((item) => redactSecrets(item, depth + 1, seen));
    if (value.length > MAX_LOGGED_ENTRIES) items.push(`[${value.length - MAX_LOGGED_ENTRIES} more items]`);
    return items;
  }
  if (value instanceof Date) return value;
  if (Buffer.isBuffer(value))
    return value.length <= MAX_LOGGED_STRING_LENGTH ? value : `[${value.length} bytes]`;
  const copy: Record<string, unknown> = {};
  const entries = Object.entries(value);
  for (const [key, field] of entries.slice(0, MAX_LOGGED_ENTRIES)) {
    copy[key] = isSecretKey(key) ? REDACTED : redactSecrets(field, depth + 1, seen);
  }
  if (entries.length > MAX_LOGGED_ENTRIES) copy['[more keys]'] = entries.length - MAX_LOGGED_ENTRIES;
  return copy;
}

/** Redacts `user:password@` in URLs (database and NATS URLs are logged at start-up). */
export function redactUrlCredentials(url: string): string {
  return url.replace(/\/\/([^/@:]*):([^/@]*)@/, `//$1:${REDACTED}@`);
}
