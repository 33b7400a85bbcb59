import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromPublic } from '@nats-io/nkeys';
import { natsIdentities } from '@tessera/contracts';
import { afterAll, describe, expect, it } from 'vitest';
import { createNatsUserKey, loadOrCreateNatsIdentityKeys, seedFile } from './nats-identity-keys.js';

describe('loadOrCreateNatsIdentityKeys', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it('keeps one seed per identity in a private directory, and the same keys on the next run', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tessera-nkeys-'));
    dirs.push(root);
    const dir = join(root, 'nats-keys');
    const first = await loadOrCreateNatsIdentityKeys(dir);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    for (const identity of natsIdentities) {
      const file = seedFile(dir, identity);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      // The bare seed: a Kubernetes Secret made from the file holds exactly the seed.
      expect(await readFile(file, 'utf8')).toBe(first[identity].seed);
      expect(fromPublic(first[identity].publicKey).getPublicKey()).toBe(first[identity].publicKey);
    }
    expect(new Set(natsIdentities.map((identity) => first[identity].seed)).size).toBe(natsIdentities.length);
    expect(await loadOrCreateNatsIdentityKeys(dir)).toEqual(first);
  });

  it('reads a seed written by hand with a trailing newline', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-nkeys-'));
    dirs.push(dir);
    const key = createNatsUserKey();
    await writeFile(seedFile(dir, 'billing'), `${key.seed}\n`, { mode: 0o644 });
    const keys = await loadOrCreateNatsIdentityKeys(dir);
    expect(keys.billing).toEqual(key);
    expect((await stat(seedFile(dir, 'billing'))).mode & 0o777).toBe(0o600);
  });
});
