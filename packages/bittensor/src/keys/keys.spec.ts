import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEV_PHRASE, Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { isValidationError } from '@tessera/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveAddress, deriveKeypair, loadKeypair } from './keys.js';

const ALICE = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY';
const HEX_SEED = '0x9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';

let keyring: Keyring;
let dir: string;

beforeAll(async () => {
  await cryptoWaitReady();
  keyring = new Keyring({ type: 'sr25519', ss58Format: 42 });
  dir = await mkdtemp(join(tmpdir(), 'bittensor-keys-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
}

describe('loadKeypair', () => {
  it('reads a dev URI, a mnemonic and a hex seed the way @polkadot/keyring does', async () => {
    expect((await loadKeypair({ seed: '//Alice' }, 42))?.address).toBe(ALICE);
    for (const seed of [DEV_PHRASE, `${DEV_PHRASE}//hot//1`, HEX_SEED, `${HEX_SEED}//hot`]) {
      expect((await loadKeypair({ seed }, 42))?.address).toBe(keyring.createFromUri(seed).address);
    }
  });

  it('renders the address with the configured SS58 prefix', async () => {
    const pair = await loadKeypair({ seed: '//Alice' }, 0);
    expect(pair?.address).toBe(keyring.encodeAddress(keyring.decodeAddress(ALICE), 0));
    expect(pair?.address).not.toBe(ALICE);
  });

  it('is undefined without a source', async () => {
    expect(await loadKeypair({}, 42)).toBeUndefined();
    expect(await loadKeypair({ seed: '', keyFile: '' }, 42)).toBeUndefined();
  });

  it('reads a key file holding the secret, or a btcli JSON key file', async () => {
    const plain = join(dir, 'plain');
    await writeFile(plain, `${DEV_PHRASE}//Alice\n`);
    expect((await loadKeypair({ keyFile: plain }, 42))?.address).toBe(ALICE);
    const btcli = join(dir, 'hotkey.json');
    await writeFile(
      btcli,
      JSON.stringify({ secretPhrase: DEV_PHRASE, secretSeed: HEX_SEED, ss58Address: 'x' }),
    );
    expect((await loadKeypair({ keyFile: btcli }, 42))?.address).toBe(
      keyring.createFromUri(HEX_SEED).address,
    );
  });

  it('refuses a bad secret with a validation error that does not echo it', async () => {
    for (const seed of [
      'correct horse battery staple',
      '0x1234',
      'not a mnemonic at all but long enough to fail',
    ]) {
      const err = await rejection(loadKeypair({ seed }, 42));
      expect(isValidationError(err)).toBe(true);
      expect(String((err as Error).message)).not.toContain(seed);
    }
  });

  it('refuses a missing or malformed key file, naming it', async () => {
    const missing = join(dir, 'missing');
    const err = await rejection(loadKeypair({ keyFile: missing }, 42));
    expect(isValidationError(err)).toBe(true);
    expect(err).toMatchObject({ issues: [{ path: missing }] });
    const empty = join(dir, 'empty.json');
    await writeFile(empty, '{"ss58Address":"x"}');
    expect(isValidationError(await rejection(loadKeypair({ keyFile: empty }, 42)))).toBe(true);
  });
});

describe('deriveAddress', () => {
  it('gives the same key as the URI path for text junctions', async () => {
    const uri = `${HEX_SEED}//tessera//deposit//acct-1`;
    expect(await deriveAddress(HEX_SEED, ['tessera', 'deposit', 'acct-1'], 42)).toBe(
      keyring.createFromUri(uri).address,
    );
    expect((await deriveKeypair(HEX_SEED, ['tessera'], 42)).publicKey).toEqual(
      keyring.createFromUri(`${HEX_SEED}//tessera`).publicKey,
    );
  });

  it('keeps junctions that a URI would read as numbers or bytes apart', async () => {
    // As URIs, //7, //07 and //0x07 are one key.
    expect(keyring.createFromUri(`${HEX_SEED}//7`).address).toBe(
      keyring.createFromUri(`${HEX_SEED}//07`).address,
    );
    const addresses = await Promise.all(
      ['7', '07', '0x07'].map((id) => deriveAddress(HEX_SEED, ['deposit', id], 42)),
    );
    expect(new Set(addresses).size).toBe(3);
  });

  it('uses the SS58 prefix it is given', async () => {
    const polkadot = await deriveAddress(HEX_SEED, ['a'], 0);
    const bittensor = await deriveAddress(HEX_SEED, ['a'], 42);
    expect(polkadot).not.toBe(bittensor);
    expect(keyring.decodeAddress(polkadot)).toEqual(keyring.decodeAddress(bittensor));
  });
});
