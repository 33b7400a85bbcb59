import { hostname } from 'node:os';
import {
  MIN_INSTANCE_TOKEN_SECRET_LENGTH,
  ValidationError,
  proxyReplicaSchema,
  type ValidationIssue,
} from '@tessera/contracts';
import { defineConfig, messagingEnvSchema } from '@tessera/platform/config';
import { z } from 'zod';

const milliseconds = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const nanoUsd = (fallback: string) =>
  z
    .string()
    .regex(/^[1-9][0-9]{0,20}$/, 'must be a positive integer (nano-USD)')
    .default(fallback)
    .transform((value) => BigInt(value));

/** The host name as a replica name: what the demand, health and rate reports carry. */
function defaultReplicaName(): string {
  const cleaned = hostname()
    .replace(/[^A-Za-z0-9_-]/g, '-')
    .slice(0, 100);
  return cleaned === '' ? 'proxy' : cleaned;
}

/** The inference proxy's environment. Secrets have no defaults in production; see `resolveProxySecrets`. */
export const proxyEnvSchema = messagingEnvSchema.extend({
  /** Where the public API listens (the platform's `HTTP_PORT` serves it and health). */
  PUBLIC_HOST: z.string().min(1).default('0.0.0.0'),
  /** Key of the HMAC API key secrets are hashed with: billing's `API_KEY_PEPPER`. Required in production. */
  API_KEY_PEPPER: z.string().min(16).max(1_000).optional(),
  /** HMAC key of the per-instance data-plane tokens (the scheduler's too). Required in production. */
  INSTANCE_TOKEN_SECRET: z.string().min(MIN_INSTANCE_TOKEN_SECRET_LENGTH).max(1_000).optional(),
  /** This replica's name: it holds this replica's grants and names its reports. Default: the host name. */
  PROXY_REPLICA: proxyReplicaSchema.default(defaultReplicaName),
  /** Largest request body accepted. */
  MAX_BODY_BYTES: z.coerce.number().int().min(1_024).max(100_000_000).default(4_000_000),
  /** Longest a request may take, end to end. */
  REQUEST_TIMEOUT_MS: milliseconds(600_000),
  /** Longest an upstream may stay silent (before its first byte, or between chunks). */
  UPSTREAM_IDLE_TIMEOUT_MS: milliseconds(60_000),
  /** Attempts per request on different instances, while nothing has been sent to the client. */
  UPSTREAM_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
  /** Failures in a row that open an instance's circuit breaker. */
  BREAKER_CONSECUTIVE_FAILURES: z.coerce.number().int().min(1).max(1_000).default(5),
  /** How long an open breaker waits before letting one trial request through. */
  BREAKER_HALF_OPEN_AFTER_MS: milliseconds(10_000),
  /** Completion tokens a request is reserved for when it names no `max_tokens`. */
  DEFAULT_MAX_TOKENS: z.coerce.number().int().min(1).max(1_000_000).default(4_096),
  /** How much a grant asks billing for at once (nano-USD; default 1 USD). */
  GRANT_TARGET_NANO_USD: nanoUsd('1000000000'),
  /** A grant is topped up when its free part falls below this fraction of the target. */
  GRANT_LOW_WATERMARK: z.coerce.number().min(0).max(1).default(0.25),
  /** How often used grants are settled with billing (and fresh ones asked for). */
  SETTLE_INTERVAL_MS: milliseconds(2_000),
  /**
   * How long a completed request waits for others to share its `RequestCompleted` append: each
   * append is a commit billing charges and projects, so fewer and larger ones cost it less.
   */
  METER_LINGER_MS: z.coerce.number().int().min(0).max(1_000).default(20),
  /** How long a request for a deployment without a free instance waits for one. */
  CAPACITY_WAIT_MS: milliseconds(30_000),
  /** Requests that may wait for capacity at once on this replica; more get 503 at once. */
  CAPACITY_QUEUE_LIMIT: z.coerce.number().int().min(0).max(100_000).default(1_000),
  /** How often demand per deployment is reported to the autoscaler. */
  DEMAND_REPORT_INTERVAL_MS: milliseconds(10_000),
  /** How often this replica tells the others what it admitted for rate-limited keys. */
  RATE_REPORT_INTERVAL_MS: milliseconds(1_000),
  /** How often one ready instance is probed (drawn by concurrency); 0 turns probing off. */
  PROBE_INTERVAL_MS: z.coerce.number().int().min(0).default(10_000),
  /** Longest a probe may take. */
  PROBE_TIMEOUT_MS: milliseconds(30_000),
  /**
   * Reference GGUF files the probes judge answers against, `<model>=<path>` comma-separated
   * (the model name clients send). Models without one are probed for speed only.
   */
  PROBE_REFERENCE_MODELS: z
    .string()
    .default('')
    .transform((value, context) => {
      const references = new Map<string, string>();
      for (const entry of value
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '')) {
        const at = entry.indexOf('=');
        if (at <= 0 || at === entry.length - 1) {
          context.addIssue({ code: 'custom', message: `"${entry}" is not <model>=<path>` });
          return z.NEVER;
        }
        references.set(entry.slice(0, at), entry.slice(at + 1));
      }
      return references;
    }),
});

export class ProxyConfig extends defineConfig(proxyEnvSchema) {}

const DEV_API_KEY_PEPPER = 'tessera-development-pepper-not-secret';
const DEV_INSTANCE_TOKEN_SECRET = 'tessera-development-instance-token-secret-not-secret';

/** The secrets the proxy runs with, and whether development defaults filled any in. */
export interface ProxySecrets {
  apiKeyPepper: string;
  instanceTokenSecret: string;
  usingDevDefaults: string[];
}

/** Secrets from the config; in production each must be set, never defaulted. */
export function resolveProxySecrets(
  config: Pick<ProxyConfig, 'NODE_ENV' | 'API_KEY_PEPPER' | 'INSTANCE_TOKEN_SECRET'>,
): ProxySecrets {
  const missing = [
    ...(config.API_KEY_PEPPER === undefined ? ['API_KEY_PEPPER'] : []),
    ...(config.INSTANCE_TOKEN_SECRET === undefined ? ['INSTANCE_TOKEN_SECRET'] : []),
  ];
  if (config.NODE_ENV === 'production' && missing.length > 0) {
    const issues: ValidationIssue[] = missing.map((path) => ({
      path,
      message: 'required when NODE_ENV=production',
    }));
    throw new ValidationError('environment', issues);
  }
  return {
    apiKeyPepper: config.API_KEY_PEPPER ?? DEV_API_KEY_PEPPER,
    instanceTokenSecret: config.INSTANCE_TOKEN_SECRET ?? DEV_INSTANCE_TOKEN_SECRET,
    usingDevDefaults: missing,
  };
}
