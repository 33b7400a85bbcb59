import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { findFreePort, startManagedProcess, waitForPort, type ManagedProcess } from './process.js';

/**
 * The sha256 of the uncompressed raonet spec (subtensor `spec_version` 218) shipped in
 * `fixtures/raonet.json.gz`; see `fixtures/README.md`.
 */
export const RAONET_SPEC_SHA256 = 'bb2c7e34390f8fb5032750cc7d80d23f91a47f56fdebf4c35a24c7938b96c57c';

const raonetArchive = fileURLToPath(new URL('../fixtures/raonet.json.gz', import.meta.url));

/** The shipped chain spec (or a cached copy of it) does not hash to {@link RAONET_SPEC_SHA256}. */
export class ChainSpecIntegrityError extends Error {
  override readonly name = 'ChainSpecIntegrityError';
  readonly code = 'CHAIN_SPEC_INTEGRITY';

  constructor(
    readonly path: string,
    readonly expectedSha256: string,
    readonly actualSha256: string,
  ) {
    super(`chain spec ${path} has sha256 ${actualSha256}, expected ${expectedSha256}: refusing to run it`);
  }
}

/** True for {@link ChainSpecIntegrityError}. */
export function isChainSpecIntegrityError(err: unknown): err is ChainSpecIntegrityError {
  return err instanceof ChainSpecIntegrityError;
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The path of the local chain's raw spec, uncompressed. The repository ships it gzip-compressed
 * (1.7 MB → 0.9 MB) beside this package; chopsticks wants a plain file, so it is decompressed once
 * into a cache folder (`cacheDir`, default the system temp dir) under a name carrying its hash.
 * The hash is checked every time, on the archive's content and on a cached copy, so a truncated
 * or altered file is never run: it fails with {@link ChainSpecIntegrityError}.
 */
export async function raonetChainSpec(
  options: { cacheDir?: string; archivePath?: string } = {},
): Promise<string> {
  const cacheDir = options.cacheDir ?? join(tmpdir(), 'tessera-chain-specs');
  const target = join(cacheDir, `raonet-${RAONET_SPEC_SHA256.slice(0, 16)}.json`);
  const cached = await readFile(target).catch(() => undefined);
  if (cached && sha256Hex(cached) === RAONET_SPEC_SHA256) return target;

  const archivePath = options.archivePath ?? raonetArchive;
  let spec: Buffer;
  try {
    spec = gunzipSync(await readFile(archivePath));
  } catch (err) {
    throw new Error(`cannot read the shipped chain spec ${archivePath}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const actual = sha256Hex(spec);
  if (actual !== RAONET_SPEC_SHA256)
    throw new ChainSpecIntegrityError(archivePath, RAONET_SPEC_SHA256, actual);
  await mkdir(cacheDir, { recursive: true });
  // Written beside, then renamed: a concurrent reader sees the whole file or none.
  const partial = `${target}.${process.pid}.${Date.now()}.partial`;
  await writeFile(partial, spec);
  await rename(partial, target);
  return target;
}

/** Options for {@link startChopsticks}. */
export interface ChopsticksOptions {
  /** Absolute path of a raw chain spec (e.g. subtensor's raonet.json). */
  specPath: string;
  /** Port to serve on; a free one when omitted. */
  port?: number;
  /** Pipe chopsticks' output with a `[chain]` prefix. */
  pipeOutput?: boolean;
  /** How long to wait for the chain to serve RPC; 120 s by default. */
  startTimeoutMs?: number;
}

/** A running chopsticks process. */
export interface ChopsticksHandle {
  /** `ws://127.0.0.1:<port>`. */
  readonly endpoint: string;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

function chopsticksCli(): string {
  // The package's `require` entry is dist/cjs/index.js; its bin sits at the package root.
  const entry = createRequire(import.meta.url).resolve('@acala-network/chopsticks');
  return join(dirname(entry), '..', '..', 'chopsticks.cjs');
}

/**
 * Runs a raw chain spec in chopsticks (Instant block mode: every submitted extrinsic builds a
 * block, and each block is final at once), offline, on 127.0.0.1.
 */
export async function startChopsticks(options: ChopsticksOptions): Promise<ChopsticksHandle> {
  const port = options.port ?? (await findFreePort());
  // chopsticks lets a PORT env var and a .env file in its cwd override --port: keep both out.
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'warn' };
  delete env['PORT'];
  const child = startManagedProcess({
    name: 'chain',
    command: process.execPath,
    args: [
      chopsticksCli(),
      `--genesis=${options.specPath}`,
      `--port=${port}`,
      '--host=127.0.0.1',
      '--build-block-mode=Instant',
    ],
    cwd: tmpdir(),
    env,
    pipeOutput: options.pipeOutput ?? false,
  });
  try {
    await waitForPort('127.0.0.1', port, options.startTimeoutMs ?? 120_000, () => {
      const info = child.exitInfo();
      return info
        ? new Error(`chopsticks exited during startup (code ${String(info.code)}):\n${child.recentOutput()}`)
        : undefined;
    });
  } catch (err) {
    await child.kill();
    throw err;
  }
  return {
    endpoint: `ws://127.0.0.1:${port}`,
    process: child,
    stop: () => child.stop('SIGTERM', 5_000),
  };
}
