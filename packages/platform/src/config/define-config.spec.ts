import { isValidationError, type ValidationError } from '@tessera/contracts';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { APP_CONFIG_VALUE, ConfigModule, configView } from './config.module.js';
import {
  defineConfig,
  MessagingConfig,
  messagingEnvSchema,
  natsServerList,
  PlatformConfig,
  platformEnvSchema,
} from './define-config.js';

const validEnv = {
  SERVICE_NAME: 'billing',
  NATS_URL: 'nats://127.0.0.1:4222',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/tessera',
};

class BillingConfig extends defineConfig(messagingEnvSchema.extend({ PRICE_TABLE: z.string().min(1) })) {}

function captureError(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (err) {
    if (isValidationError(err)) return err as ValidationError;
    throw err;
  }
  throw new Error('expected a validation error');
}

describe('config', () => {
  it('given a good environment, parses it with defaults into a frozen object', () => {
    const config = BillingConfig.load({ ...validEnv, PRICE_TABLE: 'v1', HTTP_PORT: '8080' });
    expect(config.HTTP_PORT).toBe(8080);
    expect(config.NATS_SUBJECT_PREFIX).toBe('');
    expect(config.SHUTDOWN_GRACE_MS).toBe(10_000);
    expect(config.PRICE_TABLE).toBe('v1');
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('given bad variables, fails naming each of them', () => {
    const error = captureError(() =>
      BillingConfig.load({ ...validEnv, NATS_URL: 'not a url', HTTP_PORT: 'eighty' }),
    );
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.message).toMatch(/NATS_URL: Invalid URL/);
    expect(error.message).toMatch(/HTTP_PORT:/);
    expect(error.message).toMatch(/PRICE_TABLE:/);
    expect(error.issues.map((issue) => issue.path).sort()).toEqual(['HTTP_PORT', 'NATS_URL', 'PRICE_TABLE']);
  });

  it('treats an empty variable as unset, so its default applies', () => {
    const config = PlatformConfig.load({ ...validEnv, LOG_LEVEL: '', OTEL_EXPORTER_OTLP_ENDPOINT: '' });
    expect(config.LOG_LEVEL).toBe('info');
    expect(config.OTEL_EXPORTER_OTLP_ENDPOINT).toBeUndefined();
  });

  it('ConfigModule.forRoot fails at start-up naming the variable, and provides both config views', () => {
    expect(() =>
      ConfigModule.forRoot(BillingConfig, { env: { ...validEnv, PRICE_TABLE: 'v1', SERVICE_NAME: '' } }),
    ).toThrow(/SERVICE_NAME/);
    const module = ConfigModule.forRoot(BillingConfig, { env: { ...validEnv, PRICE_TABLE: 'v1' } });
    expect(module.global).toBe(true);
    expect(module.exports).toEqual([APP_CONFIG_VALUE, BillingConfig, PlatformConfig]);
  });

  it('asks a process without NATS for no NATS variable, and declares NODE_ENV (default development)', () => {
    const config = PlatformConfig.load({ SERVICE_NAME: 'miner-agent' });
    expect(config.NODE_ENV).toBe('development');
    expect(config).not.toHaveProperty('NATS_URL');
    const error = captureError(() =>
      PlatformConfig.load({ SERVICE_NAME: 'miner-agent', NODE_ENV: 'staging' }),
    );
    expect(error.issues.map((issue) => issue.path)).toEqual(['NODE_ENV']);
  });

  it('a config view fails naming the variable the app schema left out', () => {
    // An app that imports MessagingModule but built its config from the platform schema alone.
    class NoNatsConfig extends defineConfig(platformEnvSchema) {}
    const appValue = NoNatsConfig.load({ ...validEnv });
    const view = configView(MessagingConfig);
    const error = captureError(() => view.useFactory(appValue));
    expect(error.issues.map((issue) => issue.path)).toEqual(['NATS_URL']);

    const good = view.useFactory(BillingConfig.load({ ...validEnv, PRICE_TABLE: 'v1' })) as MessagingConfig;
    expect(good.NATS_URL).toBe(validEnv.NATS_URL);
    expect(good).not.toHaveProperty('PRICE_TABLE');
  });

  it('takes several NATS servers, comma-separated, and names NATS_URL when one of them is not a URL', () => {
    const config = MessagingConfig.load({
      ...validEnv,
      NATS_URL: 'nats://n1:4222,nats://n2:4222 , nats://n3:4222',
    });
    expect(natsServerList(config.NATS_URL)).toEqual(['nats://n1:4222', 'nats://n2:4222', 'nats://n3:4222']);
    for (const bad of ['nats://n1:4222,n2 4222', ',']) {
      const error = captureError(() => MessagingConfig.load({ ...validEnv, NATS_URL: bad }));
      expect(error.issues.map((issue) => issue.path)).toEqual(['NATS_URL']);
    }
  });

  it('accepts a NATS user nkey seed, and refuses anything else without echoing it', () => {
    const seed = `SU${'A'.repeat(56)}`;
    expect(MessagingConfig.load({ ...validEnv, NATS_NKEY_SEED: seed }).NATS_NKEY_SEED).toBe(seed);
    // A secret file's trailing newline (a Kubernetes Secret made with `echo`) is dropped.
    expect(MessagingConfig.load({ ...validEnv, NATS_NKEY_SEED: `${seed}\n` }).NATS_NKEY_SEED).toBe(seed);
    const notASeed = 'correct horse battery staple';
    const error = captureError(() => MessagingConfig.load({ ...validEnv, NATS_NKEY_SEED: notASeed }));
    expect(error.issues.map((issue) => issue.path)).toEqual(['NATS_NKEY_SEED']);
    expect(error.message).not.toContain(notASeed);
  });

  it('defaults NODE_ENV to development and STREAM_REPLICAS to 1', () => {
    const config = PlatformConfig.load(validEnv);
    expect([config.NODE_ENV, config.STREAM_REPLICAS]).toEqual(['development', 1]);
    expect(PlatformConfig.load({ ...validEnv, STREAM_REPLICAS: '3' }).STREAM_REPLICAS).toBe(3);
    expect(captureError(() => PlatformConfig.load({ ...validEnv, NODE_ENV: 'prod' })).issues[0]?.path).toBe(
      'NODE_ENV',
    );
  });
});
