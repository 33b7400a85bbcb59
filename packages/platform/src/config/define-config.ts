import { z } from 'zod';
import { ValidationError, toValidationIssues, type ValidationIssue } from '@tessera/contracts';

const natsUrlSchema = z.url();

/** The servers of a `NATS_URL`: `nats://a:4222,nats://b:4222` → both URLs, blanks dropped. */
export function natsServerList(natsUrl: string): string[] {
  return natsUrl
    .split(',')
    .map((url) => url.trim())
    .filter((url) => url !== '');
}

/**
 * `CONSUMER_LINGER_MS` with a service's own default: a service whose consumers read one commit per
 * request (billing) waits longer than the platform's 5 ms. Milliseconds, 0 to 10,000.
 */
export function consumerLingerMs(defaultMs: number) {
  return z.coerce.number().int().min(0).max(10_000).default(defaultMs);
}

/**
 * Environment variables every Tessera process reads, the miner agent included. Apps extend it
 * (`platformEnvSchema.extend({ ... })`), or {@link messagingEnvSchema} when they talk over NATS,
 * and pass the result to {@link defineConfig}.
 *
 * This file imports no Nest code on purpose: the bootstrap helper parses the config before
 * telemetry starts, and telemetry must start before Nest, pg and http are loaded.
 */
export const platformEnvSchema = z.object({
  /** Service name in logs, traces, the NATS connection name and the RPC queue group. */
  SERVICE_NAME: z.string().regex(/^[a-z][a-z0-9-]*$/, 'must be lower-case kebab-case'),
  /** Declared here only: apps read it from their config (e.g. to refuse development defaults in production). */
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  /** Optional because some processes (the miner agent) have no database. */
  DATABASE_URL: z.url().optional(),
  DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/, 'must be a lower-case SQL identifier')
    .default('public'),
  HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().positive().default(10_000),
  /** Replicas of each JetStream stream this service creates: 1 on one host, 3 on the cluster. */
  STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
  /**
   * How long a consumer's lease outlives its holder: the longest a standby replica waits before
   * taking over the consumers of a replica that died.
   */
  CONSUMER_LEASE_TTL_MS: z.coerce.number().int().min(500).default(10_000),
  /** Most messages a projection or reactor handles in one batch (one transaction for a projection). */
  CONSUMER_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(500),
  /**
   * How long a consumer waits for more messages before it handles a batch that is not full: a few
   * milliseconds of lag for far fewer transactions under load.
   */
  CONSUMER_LINGER_MS: consumerLingerMs(5),
  /**
   * Stable name of this replica (a StatefulSet pod name, say). A replica restarted under the same
   * name takes its leases back at once; without it each process is its own holder and a
   * restarted one waits one lease TTL. Never give two live replicas the same name.
   */
  INSTANCE_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,100}$/, 'letters, digits, ".", "_" and "-"')
    .optional(),
});

/**
 * The platform's variables plus those of the NATS connection, for services that import
 * `MessagingModule` from `@tessera/platform/messaging`. Kept apart so a process without NATS
 * (the miner agent) is not asked for a `NATS_URL`.
 */
export const messagingEnvSchema = platformEnvSchema.extend({
  /**
   * One NATS server URL, or several separated by commas (the nodes of a cluster): the client
   * connects to any of them and fails over to the others. See {@link natsServerList}.
   */
  NATS_URL: z.string().refine(
    (value) => {
      const urls = natsServerList(value);
      return urls.length > 0 && urls.every((url) => natsUrlSchema.safeParse(url).success);
    },
    { message: 'Invalid URL: expected a URL or a comma-separated list of URLs' },
  ),
  /**
   * This service's NATS nkey seed (`SU…`): its identity in the permissions table. The server
   * config holds only the public key. Required with `NODE_ENV=production`; never logged.
   */
  NATS_NKEY_SEED: z
    .string()
    // A secret file's trailing newline (`echo … > seed`) is not part of the seed.
    .trim()
    .regex(/^SU[A-Z2-7]{56}$/, 'must be a NATS user nkey seed (SU followed by 56 base32 characters)')
    .optional(),
  /**
   * Prefix for every subject, stream and consumer (`<prefix>.rpc.…`); tests use it to isolate runs
   * on one server. Letters and digits only: the eventstore's `Namespace` takes the same value.
   */
  NATS_SUBJECT_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9]*$/, 'may only hold letters and digits')
    .default(''),
});

/** The parsed platform variables. */
export type PlatformEnv = z.output<typeof platformEnvSchema>;
/** The parsed platform and NATS variables. */
export type MessagingEnv = z.output<typeof messagingEnvSchema>;

/** What a config class was made from: any zod object schema over string variables. */
export type EnvSchema = z.ZodObject;

/** Raw environment, as `process.env` has it. */
export type RawEnv = Readonly<Record<string, string | undefined>>;

/**
 * A config class made by {@link defineConfig}: its instances are the parsed, frozen values and
 * the class itself is the Nest injection token, so `constructor(config: AppConfig)` just works.
 */
export interface ConfigDefinition<S extends EnvSchema = EnvSchema> {
  new (...args: never[]): Readonly<z.output<S>>;
  readonly schema: S;
  /**
   * Parses `process.env` on the first call and returns the same frozen object afterwards, so the
   * bootstrap helper and `ConfigModule` share one parse. Passing `env` parses that instead,
   * uncached (tests).
   */
  load(env?: RawEnv): Readonly<z.output<S>>;
}

/**
 * Any config class, whatever its schema: what modules that only pass the class around accept.
 * (A class's instance type has no index signature, so `ConfigDefinition<ZodObject>` would not take one.)
 */
export interface AnyConfigDefinition {
  new (...args: never[]): object;
  readonly schema: EnvSchema;
  load(env?: RawEnv): object;
}

/** Parses an environment with `schema`; throws a {@link ValidationError} naming every bad variable. */
export function parseEnv<S extends EnvSchema>(schema: S, env: RawEnv): Readonly<z.output<S>> {
  // `FOO=` in an env file means "not set": treat it like a missing variable so defaults apply.
  const cleaned: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value !== '') cleaned[key] = value;
  }
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    const issues: ValidationIssue[] = toValidationIssues(result.error);
    throw new ValidationError('environment', issues, result.error);
  }
  return Object.freeze(result.data) as Readonly<z.output<S>>;
}

/**
 * Declares a service's configuration.
 *
 * ```ts
 * export class BillingConfig extends defineConfig(platformEnvSchema.extend({ PRICE_TABLE: z.string() })) {}
 * // main.ts: bootstrapService({ config: BillingConfig, module: ... })
 * // a provider: constructor(private readonly config: BillingConfig) {}
 * ```
 */
export function defineConfig<S extends EnvSchema>(schema: S): ConfigDefinition<S> {
  let cached: Readonly<z.output<S>> | undefined;
  // A class (not a plain object) so it can be both a Nest token and the injected type.
  class Config {
    static readonly schema = schema;
    static load(env?: RawEnv): Readonly<z.output<S>> {
      if (env !== undefined) return parseEnv(schema, env);
      // The one place in the codebase that reads process.env.
      cached ??= parseEnv(schema, process.env);
      return cached;
    }
  }
  return Config as unknown as ConfigDefinition<S>;
}

/**
 * Turns a parsed config back into variables (numbers as strings), so another schema can read the
 * same values without touching `process.env` again.
 */
export function toRawEnv(value: object): RawEnv {
  const raw: Record<string, string | undefined> = {};
  for (const [key, field] of Object.entries(value)) {
    if (
      typeof field === 'string' ||
      typeof field === 'number' ||
      typeof field === 'boolean' ||
      typeof field === 'bigint'
    ) {
      raw[key] = String(field);
    }
  }
  return raw;
}

/** The platform's own view of the config; platform modules inject this, apps inject their own class. */
export class PlatformConfig extends defineConfig(platformEnvSchema) {}

/** The messaging modules' view of the config (NATS connection, RPC, event store). */
export class MessagingConfig extends defineConfig(messagingEnvSchema) {}
