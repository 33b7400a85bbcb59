import { ValidationError, type EventEnvelope } from '@tessera/contracts';

/**
 * One stored JetStream message holds every event of one decision (a "commit"), so a decision of
 * several events lands whole or not at all: NATS 2.10 has no atomic multi-message publish, and
 * one message keeps `Nats-Expected-Last-Subject-Sequence` (optimistic concurrency) and
 * `Nats-Msg-Id` (dedup, the first event's id) working exactly as for a single event.
 *
 * ```json
 * { "commit": 1, "events": [ { "id": "…", "type": "billing.AccountOpened", … }, … ] }
 * ```
 *
 * Messages written before commits existed hold one bare envelope; readers accept both.
 */
export interface StoredCommit {
  /** Format version of the commit body. */
  readonly commit: 1;
  readonly events: readonly EventEnvelope[];
}

/** Header listing the event types in a commit (comma-separated), so consumers skip commits they do not handle without parsing. */
export const EVENT_TYPES_HEADER = 'Tessera-Event-Types';
/** The header the previous release wrote (one type per message); still read. */
export const LEGACY_EVENT_TYPE_HEADER = 'Tessera-Event-Type';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Serialises the events of one decision into one message body. */
export function encodeCommit(events: readonly EventEnvelope[]): Uint8Array {
  const body: StoredCommit = { commit: 1, events };
  return encoder.encode(JSON.stringify(body));
}

/**
 * The raw envelopes a stored message holds, in order; each still has to pass the registry.
 * Throws a `ValidationError` (poison) for a body that is neither a commit nor an envelope.
 */
export function envelopesIn(payload: Uint8Array): unknown[] {
  let body: unknown;
  try {
    body = JSON.parse(decoder.decode(payload));
  } catch (err) {
    throw new ValidationError('stored message', [{ path: '', message: 'body is not JSON' }], err);
  }
  if (typeof body === 'object' && body !== null && 'commit' in body) {
    const commit = body as { commit: unknown; events?: unknown };
    if (commit.commit !== 1 || !Array.isArray(commit.events) || commit.events.length === 0) {
      throw new ValidationError('stored commit', [
        { path: 'commit', message: 'expected format 1 with a non-empty events array' },
      ]);
    }
    return commit.events as unknown[];
  }
  return [body];
}
