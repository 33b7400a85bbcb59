import { ValidationError, isValidationError } from '@tessera/contracts';
import { describe, expect, it } from 'vitest';
import { SchedulerConfig, resolveSchedulerSecrets } from './config.js';

const base = {
  SERVICE_NAME: 'scheduler',
  NATS_URL: 'nats://127.0.0.1:4222',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/tessera',
  NETUID: '7',
};

/** The variables a config error names. */
function fieldsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (err) {
    if (!isValidationError(err)) throw err;
    return err instanceof ValidationError ? err.issues.map((issue) => issue.path).sort() : [];
  }
  throw new Error('no error');
}

describe('scheduler configuration', () => {
  it('refuses to run in production without its secrets, naming them', () => {
    const config = SchedulerConfig.load({ ...base, NODE_ENV: 'production' });
    expect(fieldsOf(() => resolveSchedulerSecrets(config))).toEqual([
      'INSTANCE_TOKEN_SECRET',
      'VALIDATOR_SEED',
    ]);
    const withKey = SchedulerConfig.load({
      ...base,
      NODE_ENV: 'production',
      VALIDATOR_KEY_FILE: '/run/secrets/validator',
    });
    expect(fieldsOf(() => resolveSchedulerSecrets(withKey))).toEqual(['INSTANCE_TOKEN_SECRET']);
  });

  it('fills in labelled development secrets outside production, and uses given ones as they are', () => {
    const dev = resolveSchedulerSecrets(SchedulerConfig.load({ ...base, NODE_ENV: 'development' }));
    expect(dev.usingDevDefaults).toEqual(['VALIDATOR_SEED', 'INSTANCE_TOKEN_SECRET']);
    const secret = 'a-real-instance-token-secret-of-40-chars!';
    const given = resolveSchedulerSecrets(
      SchedulerConfig.load({
        ...base,
        NODE_ENV: 'production',
        VALIDATOR_SEED: '//Validator',
        INSTANCE_TOKEN_SECRET: secret,
      }),
    );
    expect(given).toMatchObject({
      validatorSeed: '//Validator',
      instanceTokenSecret: secret,
      usingDevDefaults: [],
    });
  });

  it('names each bad variable', () => {
    expect(
      fieldsOf(() =>
        SchedulerConfig.load({
          ...base,
          INSTANCE_TOKEN_SECRET: 'too-short',
          AXON_ADDRESS_MAP: '203.0.113.1:8091=>nowhere',
          SCALE_UP_UTILISATION: '1.5',
          GPU_CHARGE_INTERVAL_MS: '1500',
        }),
      ),
    ).toEqual([
      'AXON_ADDRESS_MAP',
      'GPU_CHARGE_INTERVAL_MS',
      'INSTANCE_TOKEN_SECRET',
      'SCALE_UP_UTILISATION',
    ]);
    expect(fieldsOf(() => SchedulerConfig.load({ ...base, NETUID: undefined }))).toEqual(['NETUID']);
  });

  it('parses the axon address map', () => {
    const config = SchedulerConfig.load({
      ...base,
      AXON_ADDRESS_MAP: '203.0.113.1:8091=127.0.0.1:4001,203.0.113.2:8091=miner-b:8091',
    });
    expect(config.AXON_ADDRESS_MAP.size).toBe(2);
  });
});
