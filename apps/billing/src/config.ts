import { defineConfig, messagingEnvSchema } from '@tessera/platform/config';
import { z } from 'zod';

const nonNegativeInteger = z.string().regex(/^(0|[1-9][0-9]*)$/, 'must be a non-negative integer');

/** Billing's environment. Secrets have no defaults in production; see `resolveSecrets`. */
export const billingEnvSchema = messagingEnvSchema.extend({
  /**
   * Mnemonic or 0x-hex seed the deposit addresses derive from (`<seed>//tessera//deposit//<accountId>`).
   * Required in production; never logged.
   */
  DEPOSIT_SEED: z.string().min(1).optional(),
  /** Key of the HMAC that hashes API key secrets. Required in production; the proxy needs the same value. */
  API_KEY_PEPPER: z.string().min(16).optional(),
  /** Deposits below this many rao are recorded and not credited. Default 0.01 TAO. */
  MIN_DEPOSIT_RAO: nonNegativeInteger.default('10000000'),
  /** Free usage per account per UTC day, nano-USD. Default 0. */
  FREE_DAILY_ALLOWANCE_NANO_USD: nonNegativeInteger.default('0'),
  /** How long a credit grant lives before its remainder returns on its own. */
  GRANT_TTL_MS: z.coerce.number().int().positive().default(60_000),
  /** How often the sweeper looks for expired grants. */
  GRANT_SWEEP_INTERVAL_MS: z.coerce.number().int().positive().default(1_000),
});

export class BillingConfig extends defineConfig(billingEnvSchema) {}

/** Well-known development values; used only outside production, and announced in the log. */
export const DEV_DEPOSIT_SEED = 'bottom drive obey lake curtain smoke basket hold race lonely fit walk';
const DEV_API_KEY_PEPPER = 'tessera-development-pepper-not-secret';

/** The secrets billing runs with, and whether development defaults filled any in. */
export interface BillingSecrets {
  depositSeed: string;
  apiKeyPepper: string;
  usingDevDefaults: string[];
}

/** Fails in production when a secret is missing; elsewhere fills in clearly-labelled dev values. */
export function resolveSecrets(
  config: Pick<BillingConfig, 'NODE_ENV' | 'DEPOSIT_SEED' | 'API_KEY_PEPPER'>,
): BillingSecrets {
  const missing = [
    ...(config.DEPOSIT_SEED === undefined ? ['DEPOSIT_SEED'] : []),
    ...(config.API_KEY_PEPPER === undefined ? ['API_KEY_PEPPER'] : []),
  ];
  if (missing.length > 0 && config.NODE_ENV === 'production') {
    throw new Error(`${missing.join(', ')}: required when NODE_ENV=production`);
  }
  return {
    depositSeed: config.DEPOSIT_SEED ?? DEV_DEPOSIT_SEED,
    apiKeyPepper: config.API_KEY_PEPPER ?? DEV_API_KEY_PEPPER,
    usingDevDefaults: missing,
  };
}
