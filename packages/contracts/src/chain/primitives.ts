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
