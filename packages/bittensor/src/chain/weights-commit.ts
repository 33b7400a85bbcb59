import { TypeRegistry } from '@polkadot/types';
import { u8aConcat } from '@polkadot/util';
import { blake2AsHex, decodeAddress } from '@polkadot/util-crypto';

/** What a validator commits to under commit-reveal; the reveal sends the same values. */
export interface WeightsCommitInput {
  /** The committing validator's hotkey (SS58). */
  hotkey: string;
  netuid: number;
  uids: readonly number[];
  /** u16 weights, one per uid. */
  weights: readonly number[];
  /** u16 values only the committer knows until the reveal. */
  salt: readonly number[];
  /** u64, as a number, bigint or decimal string. */
  versionKey: number | bigint | string;
}

// SCALE encoding needs no chain metadata for these primitive types.
const registry = new TypeRegistry();

/**
 * The hash `commitWeights` takes and `revealWeights` checks: blake2-256 of the SCALE encoding of
 * (hotkey's public key, netuid u16, uids Vec<u16>, weights Vec<u16>, salt Vec<u16>, version u64),
 * as subtensor's `get_commit_hash` builds it.
 */
export function weightsCommitHash(input: WeightsCommitInput): string {
  return blake2AsHex(
    u8aConcat(
      decodeAddress(input.hotkey),
      registry.createType('u16', input.netuid).toU8a(),
      registry.createType('Vec<u16>', input.uids).toU8a(),
      registry.createType('Vec<u16>', input.weights).toU8a(),
      registry.createType('Vec<u16>', input.salt).toU8a(),
      registry.createType('u64', input.versionKey).toU8a(),
    ),
    256,
  );
}

/** Eight random u16s: the salt of a commit (store it before sending, or the commit can never be revealed). */
export function randomSalt(
  random: (array: Uint16Array) => Uint16Array = (array) => crypto.getRandomValues(array),
): number[] {
  return Array.from(random(new Uint16Array(8)));
}

/**
 * Subtensor's epoch arithmetic. A subnet's epoch runs in the block where
 * `(block + netuid + 1) % (tempo + 1) == tempo` (`blocks_until_next_epoch == 0`); the epoch
 * index of a block is `(block + netuid + 1) / (tempo + 1)`, rounded down.
 */
export const subnetEpochs = {
  /** The epoch index `block` belongs to (`get_epoch_index`). */
  indexOf(block: number, netuid: number, tempo: number): number {
    return Math.floor((block + netuid + 1) / (tempo + 1));
  },

  /** Whether `netuid`'s epoch runs in `block`: incentive, dividends and emission change only there. */
  runsIn(block: number, netuid: number, tempo: number): boolean {
    if (tempo <= 0) return false;
    return (block + netuid + 1) % (tempo + 1) === tempo;
  },

  /** The epoch in which a commit made in `commitBlock` may be revealed. */
  revealEpochOf(commitBlock: number, netuid: number, tempo: number, revealPeriodEpochs: number): number {
    return subnetEpochs.indexOf(commitBlock, netuid, tempo) + revealPeriodEpochs;
  },

  /**
   * Whether a reveal included in the block after `head` lands in `revealEpoch` or later (the runtime
   * refuses a reveal before its epoch: `RevealTooEarly`).
   */
  revealDueAfter(head: number, netuid: number, tempo: number, revealEpoch: number): boolean {
    return subnetEpochs.indexOf(head + 1, netuid, tempo) >= revealEpoch;
  },
};
