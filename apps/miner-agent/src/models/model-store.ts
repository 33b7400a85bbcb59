import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import type { Logger } from 'pino';

/** A model ready to load: where it is and the sha256 of what is there. */
export interface ResolvedModel {
  path: string;
  sha256: string;
}

/** A model reference that cannot be served; `message` is the instance's failure reason. */
export class ModelUnavailableError extends Error {
  override readonly name = 'ModelUnavailableError';
}

/** A download failure worth another try (network, 5xx, 429). */
class TransientDownloadError extends Error {
  override readonly name = 'TransientDownloadError';
}

/**
 * Resolves model references to local files and their sha256: a path or `file:` URL as is, an
 * `http(s)` URL downloaded once into the cache (two launches of one URL share the download).
 * A folder (a Hugging Face checkout for vLLM or SGLang) is hashed as the sha256 of its
 * `sha256sum`-style manifest (`<sha256>  <relative path>` per file, sorted by path).
 */
export class ModelStore {
  private readonly downloads = new Map<string, Promise<string>>();
  /** Hashing a large model takes a while: remember digests by path, size and modification time. */
  private readonly digests = new Map<string, string>();

  constructor(
    private readonly cacheDir: string,
    private readonly logger: Logger,
  ) {}

  async resolve(
    uri: string,
    options: { expectedSha256?: string | undefined; signal: AbortSignal },
  ): Promise<ResolvedModel> {
    const path = /^https?:\/\//i.test(uri) ? await this.download(uri, options.signal) : localPath(uri);
    const sha256 = await this.sha256Of(path);
    if (options.expectedSha256 !== undefined && sha256 !== options.expectedSha256) {
      throw new ModelUnavailableError(
        `model sha256 is ${sha256}, the launch expects ${options.expectedSha256}`,
      );
    }
    return { path, sha256 };
  }

  private download(url: string, signal: AbortSignal): Promise<string> {
    let running = this.downloads.get(url);
    if (!running) {
      running = this.fetchToCache(url).finally(() => this.downloads.delete(url));
      this.downloads.set(url, running);
    }
    // One launch giving up must not cancel a download another launch waits for.
    return abortable(running, signal);
  }

  private async fetchToCache(url: string): Promise<string> {
    const dir = join(this.cacheDir, createHash('sha256').update(url).digest('hex').slice(0, 32));
    const name = basename(new URL(url).pathname) || 'model';
    const target = join(dir, name);
    if (await exists(join(dir, '.complete'))) return target;
    await mkdir(dir, { recursive: true });
    const partial = `${target}.partial`;
    const policy = retry(
      handleWhen((err) => err instanceof TransientDownloadError),
      { maxAttempts: 4, backoff: new ExponentialBackoff({ initialDelay: 500, maxDelay: 10_000 }) },
    );
    await policy.execute(async ({ attempt }) => {
      if (attempt > 0) this.logger.warn({ url, attempt }, 'retrying model download');
      let response: Response;
      try {
        response = await fetch(url, { redirect: 'follow' });
      } catch (err) {
        throw new TransientDownloadError(
          `download failed: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      if (response.status >= 500 || response.status === 429) {
        await response.body?.cancel();
        throw new TransientDownloadError(`download answered ${response.status}`);
      }
      if (!response.ok || response.body === null) {
        await response.body?.cancel();
        throw new ModelUnavailableError(`download of ${url} answered ${response.status}`);
      }
      try {
        await pipeline(Readable.fromWeb(response.body), createWriteStream(partial));
      } catch (err) {
        throw new TransientDownloadError(
          `download broke off: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    });
    await rename(partial, target);
    // Written last: a cache folder without it is an interrupted download and is fetched again.
    await writeFile(join(dir, '.complete'), url);
    this.logger.info({ url, path: target }, 'model downloaded');
    return target;
  }

  private async sha256Of(path: string): Promise<string> {
    let info;
    try {
      info = await stat(path);
    } catch {
      throw new ModelUnavailableError(`model not found at ${path}`);
    }
    const key = `${path}\0${info.size}\0${info.mtimeMs}`;
    const known = this.digests.get(key);
    if (known !== undefined) return known;
    const digest = info.isDirectory() ? await folderDigest(path) : await fileDigest(path);
    this.digests.set(key, digest);
    return digest;
  }
}

function localPath(uri: string): string {
  if (uri.startsWith('file:')) {
    try {
      return fileURLToPath(uri);
    } catch {
      throw new ModelUnavailableError(`not a valid file: URL: ${uri}`);
    }
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri))
    throw new ModelUnavailableError(`unsupported model URL scheme: ${uri}`);
  return isAbsolute(uri) ? uri : resolve(uri);
}

async function fileDigest(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

async function folderDigest(root: string): Promise<string> {
  const files: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) files.push(full);
    }
  };
  await walk(root);
  const lines: string[] = [];
  for (const file of files.map((full) => relative(root, full)).sort()) {
    lines.push(`${await fileDigest(join(root, file))}  ${file}\n`);
  }
  return createHash('sha256').update(lines.join('')).digest('hex');
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new ModelUnavailableError('launch stopped'));
  return new Promise<T>((resolvePromise, reject) => {
    const onAbort = (): void => reject(new ModelUnavailableError('launch stopped'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolvePromise(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
