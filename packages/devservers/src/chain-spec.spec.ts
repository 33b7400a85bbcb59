import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RAONET_SPEC_SHA256, isChainSpecIntegrityError, raonetChainSpec } from './chopsticks.js';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

describe('raonetChainSpec', () => {
  let cacheDir: string;

  beforeEach(async () => {
    cacheDir = await mkdtemp(join(tmpdir(), 'chain-spec-test-'));
  });

  afterEach(async () => {
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('decompresses the shipped spec into the cache, with the published sha256', async () => {
    const path = await raonetChainSpec({ cacheDir });
    expect(path.startsWith(cacheDir)).toBe(true);
    const spec = await readFile(path);
    expect(sha256(spec)).toBe(RAONET_SPEC_SHA256);
    expect(JSON.parse(spec.toString('utf8'))).toMatchObject({ genesis: { raw: expect.any(Object) } });
  });

  it('replaces a corrupted cached copy instead of running it', async () => {
    const path = await raonetChainSpec({ cacheDir });
    await writeFile(path, '{"truncated":');
    expect(await raonetChainSpec({ cacheDir })).toBe(path);
    expect(sha256(await readFile(path))).toBe(RAONET_SPEC_SHA256);
  });

  it('refuses an archive whose content has another hash, naming both hashes', async () => {
    const archivePath = join(cacheDir, 'other.json.gz');
    await writeFile(archivePath, gzipSync('{"name":"not raonet"}'));
    const err = await raonetChainSpec({ cacheDir, archivePath }).catch((error: unknown) => error);
    expect(isChainSpecIntegrityError(err)).toBe(true);
    expect(err).toMatchObject({
      expectedSha256: RAONET_SPEC_SHA256,
      actualSha256: sha256(Buffer.from('{"name":"not raonet"}')),
    });
  });
});
