import { v7 } from 'uuid';

/** A fresh UUIDv7 (time-ordered), the id format of event envelopes. */
export function uuidv7(): string {
  return v7();
}

/** Makes ids. */
export type IdFactory = () => string;

/**
 * Readable, deterministic ids for tests: `account-0001`, `account-0002`, …
 * Zero-padded so they sort like the order they were made in.
 */
export function sequentialIds(prefix: string, width = 4): IdFactory {
  let next = 1;
  return () => `${prefix}-${String(next++).padStart(width, '0')}`;
}

/**
 * Deterministic UUID-shaped ids (`00000000-0000-7000-8000-000000000001`, …) for code that
 * validates the UUID format; version and variant nibbles are those of UUIDv7.
 */
export function sequentialUuids(): IdFactory {
  let next = 1;
  return () => {
    const n = (next++).toString(16).padStart(12, '0');
    return `00000000-0000-7000-8000-${n}`;
  };
}
