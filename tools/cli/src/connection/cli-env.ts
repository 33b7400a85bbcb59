import { messagingEnvSchema, parseEnv, type RawEnv } from '@tessera/platform/config';
import { z } from 'zod';

/**
 * The environment `tessera` reads, parsed once (like every app's config): the NATS variables of
 * the services, all optional here because `npm start` leaves the URL and the operator's seed
 * where the CLI finds them.
 */
export const cliEnvSchema = messagingEnvSchema
  .pick({ NODE_ENV: true, NATS_NKEY_SEED: true, NATS_SUBJECT_PREFIX: true })
  .extend({
    NATS_URL: messagingEnvSchema.shape.NATS_URL.optional(),
    /** Where `npm start` keeps its data (and the `nats-keys/` folder); `<repository>/.data` by default. */
    TESSERA_DATA_DIR: z.string().min(1).optional(),
    /** Set by npm to the directory `npm run tessera` was typed in (npm itself runs in the root). */
    INIT_CWD: z.string().min(1).optional(),
  });

export type CliEnv = z.output<typeof cliEnvSchema>;

/** Parses the CLI's environment; a bad variable is a `ValidationError` naming it (never its value). */
export function parseCliEnv(env: RawEnv): CliEnv {
  return parseEnv(cliEnvSchema, env);
}
