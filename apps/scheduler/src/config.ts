import { MIN_INSTANCE_TOKEN_SECRET_LENGTH, ValidationError } from '@tessera/contracts';
import { defineConfig, messagingEnvSchema } from '@tessera/platform/config';
import { z } from 'zod';
import { parseAddressMap } from './fleet/axon-address-map.js';

const milliseconds = (fallback: number, min = 1) => z.coerce.number().int().min(min).default(fallback);
const fraction = (fallback: number) => z.coerce.number().gt(0).lt(1).default(fallback);

/** The scheduler's environment. Secrets have no defaults in production; see `resolveSchedulerSecrets`. */
export const schedulerEnvSchema = messagingEnvSchema.extend({
  /** The subnet whose miners host deployments. */
  NETUID: z.coerce.number().int().min(0).max(65_535),
  /** The validator hotkey that signs requests to miners (mnemonic, `//Dev` URI or 0x seed). Required in production; never logged. */
  VALIDATOR_SEED: z.string().min(1).optional(),
  /** A file holding the same secret (a mounted Kubernetes secret). */
  VALIDATOR_KEY_FILE: z.string().min(1).optional(),
  /** SS58 prefix addresses are rendered with (42 on Bittensor). */
  SS58_FORMAT: z.coerce.number().int().min(0).max(16_383).default(42),
  /**
   * HMAC key of the per-instance data-plane tokens; the inference proxy needs the same value.
   * Required in production; never logged or put in an event.
   */
  INSTANCE_TOKEN_SECRET: z.string().min(MIN_INSTANCE_TOKEN_SECRET_LENGTH).optional(),
  /**
   * Where to reach axons whose announced address is not reachable as such (a local chain only
   * accepts public addresses, so tests announce documentation IPs): `<ip>:<port>=<host>:<port>`,
   * comma-separated. Unlisted axons are reached at their announced address.
   */
  AXON_ADDRESS_MAP: z
    .string()
    .default('')
    .refine((value) => tryParse(() => parseAddressMap(value)), 'must be <ip>:<port>=<host>:<port>[,...]')
    .transform((value) => parseAddressMap(value)),
  /** How often every miner's `/capacity` and `/instances` are polled. */
  POLL_INTERVAL_MS: milliseconds(2_000, 50),
  /** How long one signed request to a miner may take. */
  MINER_REQUEST_TIMEOUT_MS: milliseconds(3_000, 50),
  /** Polls in a row a miner may miss before its instances count as lost. */
  MINER_UNREACHABLE_POLLS: z.coerce.number().int().min(1).default(3),
  /** Polls of many miners run this many at a time. */
  POLL_CONCURRENCY: z.coerce.number().int().min(1).default(32),
  /** How often the placement loop reconciles deployments with their instances (and wakes at once on demand). */
  RECONCILE_INTERVAL_MS: milliseconds(1_000, 20),
  /** How often each ready instance's data plane is checked (`GET /v1/models` with its token). */
  HEALTH_CHECK_INTERVAL_MS: milliseconds(5_000, 50),
  /** Failed health checks in a row after which an instance is replaced. */
  HEALTH_FAILURE_THRESHOLD: z.coerce.number().int().min(1).default(3),
  /** How long a launched instance may take to become ready. */
  STARTUP_TIMEOUT_MS: milliseconds(600_000, 100),
  /** Attempts at a launch that fails for other reasons than a refusal, before the instance is given up. */
  LAUNCH_MAX_ATTEMPTS: z.coerce.number().int().min(1).default(5),
  /** How long a draining instance keeps running for the requests in flight before it is stopped. */
  DRAIN_GRACE_MS: milliseconds(10_000, 0),
  /** A miner that refused a launch is not offered another one for this long. */
  REFUSAL_COOLDOWN_MS: milliseconds(60_000, 0),
  /** Most new instances placed per reconcile pass. */
  MAX_PLACEMENTS_PER_PASS: z.coerce.number().int().min(1).default(32),
  /** Scale up when in-flight + queued requests exceed this share of the target's capacity. */
  SCALE_UP_UTILISATION: fraction(0.5),
  /** Scale down when they stay below this share. */
  SCALE_DOWN_UTILISATION: fraction(0.2),
  /** Most replicas added in one step. */
  MAX_SCALE_UP_STEP: z.coerce.number().int().min(1).default(2),
  /** An instance is never scaled down before it has been ready this long. */
  MIN_INSTANCE_AGE_MS: milliseconds(120_000, 0),
  /** Least time between two scale-downs of one deployment. */
  SCALE_DOWN_COOLDOWN_MS: milliseconds(60_000, 0),
  /** A proxy replica's demand report counts for this long after its window ends. */
  DEMAND_STALE_MS: milliseconds(30_000, 100),
  /** GPU-seconds of private deployments are charged per instance in intervals of this length. */
  GPU_CHARGE_INTERVAL_MS: milliseconds(60_000, 1_000).refine(
    (value) => value % 1_000 === 0,
    'must be whole seconds',
  ),
  /** How long the placement lease outlives its holder: the longest a standby replica waits to take over. */
  PLACEMENT_LEASE_TTL_MS: milliseconds(15_000, 500),
});

function tryParse(parse: () => unknown): boolean {
  try {
    parse();
    return true;
  } catch {
    return false;
  }
}

/** The scheduler's parsed configuration (also its Nest injection token). */
export class SchedulerConfig extends defineConfig(schedulerEnvSchema) {}

/** Public development values, used only outside production and announced in the log. */
const DEV_VALIDATOR_SEED = '//TesseraValidator';
const DEV_INSTANCE_TOKEN_SECRET = 'tessera-development-instance-token-secret-not-secret';

/** The secrets the scheduler runs with, and which of them are development defaults. */
export interface SchedulerSecrets {
  validatorSeed: string | undefined;
  validatorKeyFile: string | undefined;
  instanceTokenSecret: string;
  usingDevDefaults: string[];
}

/** Fails in production when a secret is missing (a `ValidationError` naming each); elsewhere fills in clearly labelled development values. */
export function resolveSchedulerSecrets(
  config: Pick<
    SchedulerConfig,
    'NODE_ENV' | 'VALIDATOR_SEED' | 'VALIDATOR_KEY_FILE' | 'INSTANCE_TOKEN_SECRET'
  >,
): SchedulerSecrets {
  const noKey = config.VALIDATOR_SEED === undefined && config.VALIDATOR_KEY_FILE === undefined;
  const missing = [
    ...(noKey ? ['VALIDATOR_SEED'] : []),
    ...(config.INSTANCE_TOKEN_SECRET === undefined ? ['INSTANCE_TOKEN_SECRET'] : []),
  ];
  if (missing.length > 0 && config.NODE_ENV === 'production') {
    throw new ValidationError(
      'environment',
      missing.map((path) => ({ path, message: 'required when NODE_ENV=production' })),
    );
  }
  return {
    validatorSeed: noKey ? DEV_VALIDATOR_SEED : config.VALIDATOR_SEED,
    validatorKeyFile: config.VALIDATOR_KEY_FILE,
    instanceTokenSecret: config.INSTANCE_TOKEN_SECRET ?? DEV_INSTANCE_TOKEN_SECRET,
    usingDevDefaults: missing,
  };
}
