import { createHash } from 'node:crypto';

/**
 * A UUID derived from `parts` (RFC 9562 version 8, "custom"): sha256 of the parts joined by
 * ':', first 16 bytes, version and variant bits set. The same parts give the same id in every
 * process and on every replay, so JetStream's `Nats-Msg-Id` dedup sees a replayed fact as the
 * same message.
 */
export function derivedEventId(...parts: readonly (string | number)[]): string {
  const bytes = createHash('sha256').update(parts.join(':')).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The id of the fact a runtime event produced: (block hash, event index, event type). */
export function chainEventId(blockHash: string, eventIndex: number, type: string): string {
  return derivedEventId(blockHash, eventIndex, type);
}
