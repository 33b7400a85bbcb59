import { z } from 'zod';

/**
 * An SS58 address by shape (base58, 46–48 characters). The checksum and network prefix are
 * checked where keys are handled (`@polkadot/util-crypto`), since contracts do no crypto.
 */
export const ss58AddressSchema = z.string().regex(/^[1-9A-HJ-NP-Za-km-z]{46,48}$/, 'must be an SS58 address');

/** A 32-byte hash as 0x-prefixed lowercase hex (block and extrinsic hashes). */
export const hashHexSchema = z.string().regex(/^0x[0-9a-f]{64}$/, 'must be a 0x-prefixed 32-byte hex hash');

/** A subnet id on Bittensor (u16). */
export const netuidSchema = z.int().min(0).max(65_535);

/** A block height. */
export const blockNumberSchema = z.int().nonnegative();

/** A uid on a subnet (u16). */
export const uidSchema = z.int().min(0).max(65_535);

/** A value the runtime stores as a u16 fraction of 65535 (incentive, dividends, weights). */
export const u16Schema = z.int().min(0).max(65_535);

/** A u64 that may pass 2^53 (version keys, alpha amounts), as a decimal string. */
export const u64StringSchema = z.string().regex(/^(0|[1-9][0-9]*)$/, 'must be a non-negative integer string');

/**
 * Where a fact sits on the chain. Together with the event's type, (block hash, event index)
 * names it uniquely, and the event id is derived from them.
 */
export const chainPositionShape = {
  blockNumber: blockNumberSchema,
  blockHash: hashHexSchema,
  /** Index of the extrinsic in the block; null when a hook (not an extrinsic) caused it. */
  extrinsicIndex: z.int().nonnegative().nullable(),
  /** Index of the runtime event among the block's events. */
  eventIndex: z.int().nonnegative(),
} as const;
