import { streamIdOf, type PendingEvent } from '@tessera/contracts';
import { isConcurrencyConflict, NO_STREAM, type EventStore } from '@tessera/eventstore';
import { BlockFactsMismatchError } from '../shared/indexer-errors.js';

/**
 * Stream ids: every fact a block produced goes to one aggregate per block,
 * `chain.block.<height, zero-padded to 10 digits>` (sortable, like squid's chain-position ids).
 * A block's aggregate is written once, by one indexer, and never changes afterwards:
 *
 * - the append expects an empty aggregate, so a replay after a crash (publish done, cursor not
 *   yet committed) is caught by JetStream itself — by `Nats-Msg-Id` inside the duplicate window
 *   and by the expected subject sequence after it — instead of relying on the window alone;
 * - on that conflict the stored events are compared with the replayed ones: the same ids are
 *   "already published", a missing tail (a crash half-way through a block) is appended, and
 *   different ids mean a different chain, which stops the indexer loudly.
 */
export function blockStreamId(height: number): string {
  return streamIdOf('chain', 'block', String(height).padStart(10, '0'));
}

export class BlockPublisher {
  constructor(private readonly store: EventStore) {}

  /** Appends the block's facts exactly once; returns how many were new. */
  async publish(height: number, blockHash: string, events: readonly PendingEvent[]): Promise<number> {
    if (events.length === 0) return 0;
    const streamId = blockStreamId(height);
    const metadata = { correlationId: blockHash, actor: 'service:chain-indexer' };
    try {
      const result = await this.store.append(streamId, events, { ...metadata, expected: NO_STREAM });
      return result.duplicate ? 0 : events.length;
    } catch (err) {
      if (!isConcurrencyConflict(err)) throw err;
    }
    const stored = await this.store.readStream(streamId);
    stored.events.forEach((event, index) => {
      if (event.id !== events[index]?.id) {
        throw new BlockFactsMismatchError(streamId, index + 1, event.id, events[index]?.id);
      }
    });
    const missing = events.slice(stored.events.length);
    if (missing.length === 0) return 0;
    await this.store.append(streamId, missing, { ...metadata, expected: stored.position });
    return missing.length;
  }
}
