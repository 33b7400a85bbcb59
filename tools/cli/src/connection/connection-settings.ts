import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ErrorCode, OPERATOR_IDENTITY, TesseraError } from '@tessera/contracts';
import { messagingEnvSchema } from '@tessera/platform/config';
import { type CliEnv } from './cli-env.js';

/**
 * What `npm start` leaves in its data directory for the CLI: every identity's nkey seed in
 * `nats-keys/<identity>.nk` (0600), and the URL of the NATS it started beside them.
 */
export const NATS_KEYS_FOLDER = 'nats-keys';
export const NATS_URL_FILE = 'nats-url';

/** Where no flag, variable or `npm start` says otherwise: a local nats-server on its default port. */
const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/** The global options that choose the connection. */
export interface ConnectionFlags {
  readonly natsUrl: string | undefined;
  readonly seedFile: string | undefined;
}

/** Where to connect and as whom, and where each came from (for messages; never the seed itself). */
export interface OperatorConnectionSettings {
  readonly natsUrl: string;
  readonly natsUrlSource: string;
  readonly seed: string | undefined;
  readonly seedSource: string | undefined;
  readonly subjectPrefix: string;
  readonly nodeEnv: CliEnv['NODE_ENV'];
}

/**
 * Picks the NATS URL and the operator's seed, first found wins: the flags (`--nats-url`,
 * `--seed-file`), then `NATS_URL` / `NATS_NKEY_SEED`, then what `npm start` wrote under the data
 * directory. Without any seed the connection is made without credentials (a NATS that enforces
 * no permissions, as in development without `npm start`).
 */
export function resolveConnectionSettings(
  flags: ConnectionFlags,
  env: CliEnv,
  dataDir: string,
  cwd: string,
): OperatorConnectionSettings {
  const keysDir = join(dataDir, NATS_KEYS_FOLDER);
  const urlFile = join(keysDir, NATS_URL_FILE);
  const operatorSeedFile = join(keysDir, `${OPERATOR_IDENTITY}.nk`);

  let natsUrl = DEFAULT_NATS_URL;
  let natsUrlSource = 'the default';
  if (flags.natsUrl !== undefined) {
    natsUrl = checkNatsUrl(flags.natsUrl, '--nats-url');
    natsUrlSource = '--nats-url';
  } else if (env.NATS_URL !== undefined) {
    natsUrl = env.NATS_URL;
    natsUrlSource = 'NATS_URL';
  } else if (existsSync(urlFile)) {
    natsUrl = checkNatsUrl(readText(urlFile, urlFile), urlFile);
    natsUrlSource = `${urlFile} (written by npm start)`;
  }

  let seed: string | undefined;
  let seedSource: string | undefined;
  if (flags.seedFile !== undefined) {
    const file = resolve(cwd, flags.seedFile);
    seedSource = `--seed-file ${file}`;
    seed = checkSeed(readText(file, `--seed-file ${file}`), seedSource);
  } else if (env.NATS_NKEY_SEED !== undefined) {
    seed = env.NATS_NKEY_SEED;
    seedSource = 'NATS_NKEY_SEED';
  } else if (existsSync(operatorSeedFile)) {
    seedSource = `${operatorSeedFile} (written by npm start)`;
    seed = checkSeed(readText(operatorSeedFile, operatorSeedFile), seedSource);
  }

  return {
    natsUrl,
    natsUrlSource,
    seed,
    seedSource,
    subjectPrefix: env.NATS_SUBJECT_PREFIX,
    nodeEnv: env.NODE_ENV,
  };
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    const reason = (err as { code?: unknown }).code === 'ENOENT' ? 'no such file' : String(err);
    throw new TesseraError(ErrorCode.ValidationFailed, `cannot read ${what}: ${reason}`, {
      details: { issues: [{ path: what, message: reason }] },
    });
  }
}

function checkNatsUrl(value: string, source: string): string {
  const checked = messagingEnvSchema.shape.NATS_URL.safeParse(value);
  if (!checked.success) {
    throw new TesseraError(
      ErrorCode.ValidationFailed,
      `${source}: not a NATS URL (or a comma-separated list)`,
      {
        details: { issues: [{ path: source, message: 'not a NATS URL' }] },
      },
    );
  }
  return checked.data;
}

/** Checks the shape of a seed; the message names where it came from, never what it holds. */
function checkSeed(value: string, source: string): string {
  const checked = messagingEnvSchema.shape.NATS_NKEY_SEED.safeParse(value);
  if (!checked.success || checked.data === undefined) {
    throw new TesseraError(
      ErrorCode.ValidationFailed,
      `${source} does not hold a NATS user nkey seed (SU followed by 56 base32 characters)`,
      { details: { issues: [{ path: source, message: 'not a NATS user nkey seed' }] } },
    );
  }
  return checked.data;
}
