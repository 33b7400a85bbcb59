import { homedir } from 'node:os';
import { join } from 'node:path';
import { engineNameSchema, ss58AddressSchema } from '@tessera/contracts';
import { defineConfig, platformEnvSchema } from '@tessera/platform/config';
import { z } from 'zod';
import { parseDeclaredGpus } from './capacity/gpu-source.js';

/** A comma-separated list in one variable, split before the item schema runs. */
const commaSeparated = z
  .string()
  .default('')
  .transform((value) =>
    value
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== ''),
  );

/** A command line in one variable, split on spaces (no shell is involved). */
const commandLine = z
  .string()
  .min(1)
  .transform((value) => value.trim().split(/\s+/));

/**
 * The miner's keys: its hotkey (signs replies and `serve-axon`) and, for `register` only, the
 * coldkey that pays the burn. Each is a mnemonic, `//Dev` URI or 0x seed, or a file holding
 * one (a btcli wallet key file works too). Secrets live only here and in the keyrings built
 * from them; nothing logs the config object.
 */
export const minerKeyEnvSchema = z.object({
  MINER_HOTKEY_SEED: z.string().min(1).optional(),
  MINER_HOTKEY_FILE: z.string().min(1).optional(),
  MINER_COLDKEY_SEED: z.string().min(1).optional(),
  MINER_COLDKEY_FILE: z.string().min(1).optional(),
  /** SS58 prefix addresses are rendered with (42 on Bittensor). */
  SS58_FORMAT: z.coerce.number().int().min(0).max(16_383).default(42),
});

/** The miner-agent's environment (the `tessera-miner` CLI reads {@link minerCliEnvSchema}). */
export const minerEnvSchema = platformEnvSchema.extend({
  /** Runs outside the platform's deployment, where nothing sets it: a default keeps setup short. */
  SERVICE_NAME: platformEnvSchema.shape.SERVICE_NAME.default('miner-agent'),
  ...minerKeyEnvSchema.shape,
  /** Validator hotkeys whose signed requests the control API accepts; empty accepts none. */
  ALLOWED_VALIDATOR_HOTKEYS: commaSeparated.pipe(z.array(ss58AddressSchema)),
  /** Where the control API and the instances' data plane listen: the address the axon announces. */
  MINER_HOST: z.string().min(1).default('0.0.0.0'),
  MINER_PORT: z.coerce.number().int().min(0).max(65_535).default(8091),
  /**
   * `auto`: the NVIDIA GPUs `nvidia-smi` lists (outside production, one declared `cpu` slot when
   * there is no `nvidia-smi`). Or declared GPUs for a host without them: `<count>x<name>:<MiB>`,
   * comma-separated, e.g. `2xcpu:0`.
   */
  GPUS: z
    .string()
    .default('auto')
    .refine(
      (value) => value === 'auto' || tryDeclared(value),
      'must be auto or <count>x<name>:<memory MiB>[,...] (e.g. 2xA100-80GB:81920)',
    ),
  NVIDIA_SMI: z.string().min(1).default('nvidia-smi'),
  /** Instances at once; default one per GPU. */
  MAX_INSTANCES: z.coerce.number().int().positive().optional(),
  /** Engines offered; `llama-server` falls back to the llama engine's own server when it is not installed. */
  ENGINES: commaSeparated.pipe(z.array(engineNameSchema).min(1)).default(['llama', 'llama-server']),
  MODEL_CACHE_DIR: z
    .string()
    .min(1)
    .default(join(homedir(), '.cache', 'tessera-miner', 'models')),
  /** Threads llama.cpp may use in this process (in-process llama engine). */
  LLAMA_THREADS: z.coerce.number().int().positive().default(1),
  /** Largest context per request the llama engine allocates. */
  LLAMA_MAX_CONTEXT: z.coerce.number().int().min(64).default(8192),
  VLLM_COMMAND: commandLine.default(['vllm']),
  SGLANG_COMMAND: commandLine.default(['python3', '-m', 'sglang.launch_server']),
  /** Default: `llama-server` from PATH when it is there. */
  LLAMA_SERVER_COMMAND: commandLine.optional(),
  /** Overrides every command template's readiness timeout. */
  ENGINE_READY_TIMEOUT_MS: z.coerce.number().int().positive().optional(),
});

/** The parsed configuration (also its Nest injection token). */
export class MinerConfig extends defineConfig(minerEnvSchema) {}

/** What `tessera-miner register | serve-axon` read. */
export const minerCliEnvSchema = minerKeyEnvSchema.extend({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  /** ws(s):// endpoint of a subtensor node; `--chain` overrides it. */
  CHAIN_ENDPOINT: z
    .string()
    .regex(/^wss?:\/\/\S+$/, 'must be a ws:// or wss:// URL')
    .optional(),
});

function tryDeclared(value: string): boolean {
  try {
    parseDeclaredGpus(value);
    return true;
  } catch {
    return false;
  }
}

/** Public development hotkey URI, used only outside production and announced in the log. */
export const DEV_MINER_HOTKEY = '//TesseraMiner';
