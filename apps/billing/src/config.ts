import { DEV_PHRASE, DEV_SEED } from '@polkadot/keyring';
import { ValidationError, type ValidationIssue } from '@tessera/contracts';
import { consumerLingerMs, defineConfig, messagingEnvSchema } from '@tessera/platform/config';
import { z } from 'zod';

const nonNegativeInteger = z.string().regex(/^(0|[1-9][0-9]{0,29})$/, 'must be a non-negative integer');

/** Billing's environment. Secrets have no defaults in production; see `resolveSecrets`. */
export const billingEnvSchema = messagingEnvSchema.extend({
  /**
   * Billing's consumers wait longer than the platform's 5 ms for a batch to fill: every request the
   * proxy meters becomes a commit each of them reads, and its read models (ledger, usage) are
   * reports, where 100 ms of lag is nothing. At thousands of requests a second, each transaction
   * (and its Postgres round trips) is most of billing's work: 100 ms rather than 25 ms made a
   * third as many, and billing's and Postgres' CPU per request 12 to 21 % less (bench:proxy).
   */
  CONSUMER_LINGER_MS: consumerLingerMs(100),
  /**
   * Mnemonic or 0x-hex seed the deposit addresses derive from
   * (`<seed>//tessera//deposit//<junction of the account id>`). Required in production; never logged.
   */
  DEPOSIT_SEED: z.string().min(1).max(1_000).optional(),
  /**
   * Key of the HMAC that hashes API key secrets; at least 32 bytes in production. Required in
   * production; the proxy needs the same value.
   */
  API_KEY_PEPPER: z.string().min(16).max(1_000).optional(),
  /** Deposits below this many rao are booked as dust and not credited. Default 0.01 TAO. */
  MIN_DEPOSIT_RAO: nonNegativeInteger.default('10000000'),
  /** Free usage per account per UTC day, nano-USD. Default 0. */
  FREE_DAILY_ALLOWANCE_NANO_USD: nonNegativeInteger.default('0'),
  /** How long a credit grant lives before its remainder returns on its own. */
  GRANT_TTL_MS: z.coerce.number().int().positive().default(60_000),
  /** How often the sweeper looks for expired grants. */
  GRANT_SWEEP_INTERVAL_MS: z.coerce.number().int().positive().default(1_000),
  /** How often suspended deposits are looked at for a price or a claim that now lets them be credited. */
  SUSPENSE_SWEEP_INTERVAL_MS: z.coerce.number().int().positive().default(5_000),
  /**
   * How long an idempotency key (credit, grant, usage) is remembered, by the events' time: a retry
   * later than this is a new request. Deposits are remembered for good. Default 7 days.
   */
  IDEMPOTENCY_RETENTION_MS: z.coerce
    .number()
    .int()
    .min(60_000)
    .default(7 * 24 * 60 * 60 * 1000),
  /** An account's state is snapshotted after this many new events, so loading it stays bounded. */
  ACCOUNT_SNAPSHOT_EVERY: z.coerce.number().int().min(10).default(2_000),
});

export class BillingConfig extends defineConfig(billingEnvSchema) {}

/** Well-known development values; used only outside production, and announced in the log. */
export const DEV_DEPOSIT_SEED = DEV_PHRASE;
const DEV_API_KEY_PEPPER = 'tessera-development-pepper-not-secret';
/** The shortest pepper production accepts: an HMAC-SHA256 key should be as long as its output. */
export const MIN_PRODUCTION_PEPPER_BYTES = 32;

/** The secrets billing runs with, and whether development defaults filled any in. */
export interface BillingSecrets {
  depositSeed: string;
  apiKeyPepper: string;
  usingDevDefaults: string[];
}

/**
 * Why a deposit seed may not run production, or undefined. Polkadot expands a seed that is only a
 * derivation path (`//Alice`) with the public development phrase, so those are as public as the
 * phrase itself; so is anything derived from the phrase or the development seed.
 */
function publicSeedReason(seed: string): string | undefined {
  const trimmed = seed.trim();
  if (trimmed.startsWith('/'))
    return 'is only a derivation path, which Polkadot expands with the public development phrase';
  const secretPart = trimmed.split('/')[0]?.trim() ?? '';
  if (secretPart === DEV_PHRASE || secretPart.toLowerCase() === DEV_SEED)
    return 'is the public development phrase or seed';
  return undefined;
}

/**
 * Fails in production when a secret is missing or is one the world knows (a public development
 * seed, a short pepper); elsewhere fills in clearly-labelled dev values. Errors name the variable,
 * never its value.
 */
export function resolveSecrets(
  config: Pick<BillingConfig, 'NODE_ENV' | 'DEPOSIT_SEED' | 'API_KEY_PEPPER'>,
): BillingSecrets {
  const missing = [
    ...(config.DEPOSIT_SEED === undefined ? ['DEPOSIT_SEED'] : []),
    ...(config.API_KEY_PEPPER === undefined ? ['API_KEY_PEPPER'] : []),
  ];
  if (config.NODE_ENV === 'production') {
    const issues: ValidationIssue[] = missing.map((path) => ({
      path,
      message: 'required when NODE_ENV=production',
    }));
    const seedReason = config.DEPOSIT_SEED === undefined ? undefined : publicSeedReason(config.DEPOSIT_SEED);
    if (seedReason)
      issues.push({ path: 'DEPOSIT_SEED', message: `${seedReason}; refused when NODE_ENV=production` });
    if (
      config.API_KEY_PEPPER !== undefined &&
      Buffer.byteLength(config.API_KEY_PEPPER, 'utf8') < MIN_PRODUCTION_PEPPER_BYTES
    ) {
      issues.push({
        path: 'API_KEY_PEPPER',
        message: `must be at least ${MIN_PRODUCTION_PEPPER_BYTES} bytes when NODE_ENV=production`,
      });
    }
    if (issues.length > 0) throw new ValidationError('environment', issues);
  }
  return {
    depositSeed: config.DEPOSIT_SEED ?? DEV_DEPOSIT_SEED,
    apiKeyPepper: config.API_KEY_PEPPER ?? DEV_API_KEY_PEPPER,
    usingDevDefaults: missing,
  };
}
