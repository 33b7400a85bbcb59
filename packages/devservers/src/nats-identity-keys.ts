import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createUser, fromSeed } from '@nats-io/nkeys';
import { natsIdentities, type NatsIdentity } from '@tessera/contracts';

/** One identity's nkey pair. The seed is the secret (`NATS_NKEY_SEED`); the public key goes into the server config. */
export interface NatsIdentityKey {
  readonly seed: string;
  readonly publicKey: string;
}

/** A key pair for every identity of the permissions table. */
export type NatsIdentityKeys = Readonly<Record<NatsIdentity, NatsIdentityKey>>;

const decoder = new TextDecoder();

/** A fresh user nkey pair. */
export function createNatsUserKey(): NatsIdentityKey {
  const pair = createUser();
  return { seed: decoder.decode(pair.getSeed()), publicKey: pair.getPublicKey() };
}

/** Fresh key pairs for every identity (tests). */
export function createNatsIdentityKeys(): NatsIdentityKeys {
  return Object.fromEntries(
    natsIdentities.map((identity) => [identity, createNatsUserKey()]),
  ) as unknown as NatsIdentityKeys;
}

/** The public keys, as `natsAuthorization({ keys: { publicKeys } })` takes them. */
export function publicKeysOf(keys: NatsIdentityKeys): Record<NatsIdentity, string> {
  return Object.fromEntries(natsIdentities.map((identity) => [identity, keys[identity].publicKey])) as Record<
    NatsIdentity,
    string
  >;
}

/** The file holding an identity's seed in a key directory. */
export function seedFile(dir: string, identity: NatsIdentity): string {
  return join(dir, `${identity}.nk`);
}

/**
 * Reads each identity's seed from `<dir>/<identity>.nk`, creating the ones that are missing, so a
 * data directory keeps its keys across runs. The directory is 0700 and each seed file 0600: a seed
 * is the identity's password.
 */
export async function loadOrCreateNatsIdentityKeys(dir: string): Promise<NatsIdentityKeys> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const entries: [NatsIdentity, NatsIdentityKey][] = [];
  for (const identity of natsIdentities) {
    const file = seedFile(dir, identity);
    const existing = await readFile(file, 'utf8').catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    });
    if (existing !== undefined) {
      const seed = existing.trim();
      entries.push([identity, { seed, publicKey: fromSeed(new TextEncoder().encode(seed)).getPublicKey() }]);
      await chmod(file, 0o600);
      continue;
    }
    const key = createNatsUserKey();
    // No newline: a Kubernetes Secret made from the file (`--from-file`) must hold the bare seed.
    // `wx`: never overwrite a seed another process wrote a moment ago.
    await writeFile(file, key.seed, { mode: 0o600, flag: 'wx' });
    entries.push([identity, key]);
  }
  return Object.fromEntries(entries) as unknown as NatsIdentityKeys;
}
