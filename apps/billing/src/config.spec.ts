import { DEV_PHRASE, DEV_SEED } from '@polkadot/keyring';
import { isValidationError, type ValidationError } from '@tessera/contracts';
import { describe, expect, it } from 'vitest';
import { platformEnvSchema } from '@tessera/platform/config';
import { billingEnvSchema, resolveSecrets } from './config.js';

const STRONG_SEED = 'ripple hover kangaroo finger lunar quality rather upon ticket credit lava soap';
const STRONG_PEPPER = 'p'.repeat(32);

function refusal(config: Parameters<typeof resolveSecrets>[0]): ValidationError {
  try {
    resolveSecrets(config);
  } catch (err) {
    if (isValidationError(err)) return err as ValidationError;
    throw err;
  }
  throw new Error('secrets were accepted');
}

describe('billing secrets in production', () => {
  it('accepts a private seed and a 32-byte pepper', () => {
    const secrets = resolveSecrets({
      NODE_ENV: 'production',
      DEPOSIT_SEED: STRONG_SEED,
      API_KEY_PEPPER: STRONG_PEPPER,
    });
    expect(secrets).toEqual({ depositSeed: STRONG_SEED, apiKeyPepper: STRONG_PEPPER, usingDevDefaults: [] });
  });

  it.each([
    ['the public development phrase', DEV_PHRASE],
    ['a path under the development phrase', `${DEV_PHRASE}//tessera`],
    ['the public development seed', DEV_SEED],
    ['a bare //path, which Polkadot expands with the development phrase', '//Alice'],
    ['a bare /soft path', '/tessera//deposit'],
  ])('refuses %s as DEPOSIT_SEED, naming the variable and not the value', (_label, seed) => {
    const error = refusal({ NODE_ENV: 'production', DEPOSIT_SEED: seed, API_KEY_PEPPER: STRONG_PEPPER });
    expect(error.issues.map((issue) => issue.path)).toEqual(['DEPOSIT_SEED']);
    expect(error.message).not.toContain(seed);
  });

  it('refuses a pepper under 32 bytes and missing secrets, all named at once', () => {
    const short = refusal({
      NODE_ENV: 'production',
      DEPOSIT_SEED: STRONG_SEED,
      API_KEY_PEPPER: 'p'.repeat(31),
    });
    expect(short.issues.map((issue) => issue.path)).toEqual(['API_KEY_PEPPER']);
    const missing = refusal({ NODE_ENV: 'production', DEPOSIT_SEED: undefined, API_KEY_PEPPER: undefined });
    expect(missing.issues.map((issue) => issue.path)).toEqual(['DEPOSIT_SEED', 'API_KEY_PEPPER']);
  });

  it('outside production fills in labelled development values', () => {
    const secrets = resolveSecrets({
      NODE_ENV: 'development',
      DEPOSIT_SEED: undefined,
      API_KEY_PEPPER: undefined,
    });
    expect(secrets.depositSeed).toBe(DEV_PHRASE);
    expect(secrets.usingDevDefaults).toEqual(['DEPOSIT_SEED', 'API_KEY_PEPPER']);
    // A development seed is fine where nothing is at stake.
    expect(
      resolveSecrets({
        NODE_ENV: 'test',
        DEPOSIT_SEED: '//TesseraTestSeed',
        API_KEY_PEPPER: 'short-pepper-16b',
      }).usingDevDefaults,
    ).toEqual([]);
  });
});

describe('billing consumer linger', () => {
  it("defaults to 100 ms where the platform's is 5 ms, with the platform's bounds", () => {
    const linger = billingEnvSchema.shape.CONSUMER_LINGER_MS;
    expect(linger.parse(undefined)).toBe(100);
    expect(platformEnvSchema.shape.CONSUMER_LINGER_MS.parse(undefined)).toBe(5);
    expect(linger.parse('0')).toBe(0);
    expect(linger.safeParse('-1').success).toBe(false);
    expect(linger.safeParse('10001').success).toBe(false);
  });
});
