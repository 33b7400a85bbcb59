import { type ApiPromise } from '@polkadot/api';
import type { ApiDecoration } from '@polkadot/api/types';
import type { EventRecord } from '@polkadot/types/interfaces';
import { type RawChainEvent } from '../chain-events/select-facts.js';

/** A finalized block with its events, decoded by the metadata of the block's own runtime. */
export interface FetchedBlock {
  readonly number: number;
  readonly hash: string;
  readonly parentHash: string;
  readonly events: readonly RawChainEvent[];
  /** State and metadata at this block (`api.at(hash)`). */
  readonly at: ApiDecoration<'promise'>;
}

const ZERO_HASH = `0x${'0'.repeat(64)}`;

/** Flattens a decoded runtime event to strings; `AccountId`s render as SS58 by the registry's format. */
export function toRawEvent(record: EventRecord, index: number): RawChainEvent {
  return {
    index,
    section: record.event.section,
    method: record.event.method,
    extrinsicIndex: record.phase.isApplyExtrinsic ? record.phase.asApplyExtrinsic.toNumber() : null,
    args: record.event.data.map((value) => value.toString()),
  };
}

/**
 * Reads finalized blocks by height. `api.at(hash)` gives the block's own runtime version and
 * metadata, so events across a runtime upgrade decode correctly.
 */
export class BlockSource {
  constructor(private readonly api: ApiPromise) {}

  async finalizedHeight(): Promise<{ number: number; hash: string }> {
    const hash = await this.api.rpc.chain.getFinalizedHead();
    const header = await this.api.rpc.chain.getHeader(hash);
    return { number: header.number.toNumber(), hash: hash.toHex() };
  }

  async hashAt(height: number): Promise<string> {
    const hash = (await this.api.rpc.chain.getBlockHash(height)).toHex();
    if (hash === ZERO_HASH) throw new Error(`block ${height} is not known to the node`);
    return hash;
  }

  async fetch(height: number): Promise<FetchedBlock> {
    const hash = await this.hashAt(height);
    const [header, at] = await Promise.all([this.api.rpc.chain.getHeader(hash), this.api.at(hash)]);
    if (header.number.toNumber() !== height) {
      throw new Error(`node returned block ${header.number.toNumber()} for height ${height}`);
    }
    const records = await at.query['system']!['events']!();
    const events = [...(records as unknown as Iterable<EventRecord>)].map(toRawEvent);
    return { number: height, hash, parentHash: header.parentHash.toHex(), events, at };
  }

  /**
   * Blocks `from..to` in order, with up to `ahead` fetched concurrently: the indexer works on one
   * block while the next ones are on the wire.
   */
  async *range(from: number, to: number, ahead: number): AsyncGenerator<FetchedBlock> {
    const inFlight: Promise<FetchedBlock>[] = [];
    let next = from;
    const fill = (): void => {
      while (next <= to && inFlight.length < ahead) {
        const promise = this.fetch(next);
        // Rejections surface when awaited in order; keep Node from calling them unhandled meanwhile.
        promise.catch(() => undefined);
        inFlight.push(promise);
        next += 1;
      }
    };
    fill();
    while (inFlight.length > 0) {
      const block = await inFlight.shift()!;
      fill();
      yield block;
    }
  }
}
