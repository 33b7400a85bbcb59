import { defineConfig, messagingEnvSchema } from '@tessera/platform/config';
import { z } from 'zod';

const ss58 = /^[1-9A-HJ-NP-Za-km-z]{46,48}$/;

/** A comma-separated list in one variable (`NETUIDS=2,19,64`), split before the item schema runs. */
const commaSeparated = z
  .string()
  .default('')
  .transform((value) =>
    value
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== ''),
  );

/**
 * The chain indexer's environment. The secret (`VALIDATOR_SEED`) lives only here and in the
 * keyring it builds; nothing logs the config object.
 */
export const chainIndexerEnvSchema = messagingEnvSchema.extend({
  /** ws(s):// endpoint of a subtensor node (archive node for backfills older than ~256 blocks). */
  CHAIN_ENDPOINT: z
    .string()
    .regex(/^wss?:\/\/\S+$/, 'must be a ws:// or wss:// URL')
    .optional(),
  /** A raw chain spec to run locally in chopsticks instead of connecting to CHAIN_ENDPOINT. */
  CHAIN_SPEC: z.string().min(1).optional(),
  /** First block to index on the very first start; default: the finalized head at that moment. */
  START_BLOCK: z.coerce.number().int().min(1).optional(),
  /** Subnets whose metagraph is kept and whose neuron/axon/stake/weights events are indexed; empty = events of every subnet, no metagraph. */
  NETUIDS: commaSeparated.pipe(
    z.array(
      z
        .string()
        .regex(/^[0-9]{1,5}$/)
        .transform(Number)
        .pipe(z.int().max(65_535)),
    ),
  ),
  /** Deposit addresses to watch besides the ones billing assigns. */
  WATCH_ADDRESSES: commaSeparated.pipe(z.array(z.string().regex(ss58, 'must be an SS58 address'))),
  /** The validator hotkey: mnemonic, `//Dev` URI or 0x seed. Without it (and a key file) the weight writer stays off. */
  VALIDATOR_SEED: z.string().min(1).optional(),
  /** A file holding the same secret as VALIDATOR_SEED (a mounted Kubernetes secret). */
  VALIDATOR_KEY_FILE: z.string().min(1).optional(),
  /** Blocks fetched ahead of the one being indexed during a backfill. */
  PREFETCH_BLOCKS: z.coerce.number().int().min(1).max(256).default(16),
  /** Most blocks committed in one Postgres transaction during a backfill. */
  COMMIT_BATCH_BLOCKS: z.coerce.number().int().min(1).max(1000).default(64),
  /** Attempts per proposal for transient submission failures. */
  WEIGHTS_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(5),
  /** SS58 prefix used to render addresses (42 on Bittensor). */
  SS58_FORMAT: z.coerce.number().int().min(0).max(16_383).default(42),
});

/** The chain indexer's parsed configuration (also its Nest injection token). */
export class ChainIndexerConfig extends defineConfig(chainIndexerEnvSchema) {}
