import { readFile } from 'node:fs/promises';
import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import { compactAddLength, hexToU8a, isHex, stringToU8a } from '@polkadot/util';
import { DeriveJunction } from '@polkadot/util-crypto/key/DeriveJunction';
import {
  cryptoWaitReady,
  keyExtractSuri,
  keyFromPath,
  mnemonicToMiniSecret,
  mnemonicValidate,
  sr25519PairFromSeed,
} from '@polkadot/util-crypto';
import { DEV_PHRASE } from '@polkadot/keyring';
import { ValidationError } from '@tessera/contracts';

/**
 * Where a secret comes from: the secret itself (`seed`: a BIP-39 mnemonic, a `0x` 32-byte hex
 * seed, or either followed by a derivation path; `//Name` means the public dev phrase), or a file
 * holding it (a mounted secret, or a btcli wallet key file: JSON with `secretPhrase`/`secretSeed`).
 */
export interface KeySource {
  seed?: string | undefined;
  keyFile?: string | undefined;
}

/**
 * The sr25519 pair of a hotkey or coldkey, or undefined when the source is empty. Addresses
 * render with `ss58Format` (42 on Bittensor). The secret stays inside the pair; a bad secret
 * is a validation error naming the source, never echoing the secret.
 */
export async function loadKeypair(source: KeySource, ss58Format: number): Promise<KeyringPair | undefined> {
  const [what, secret] =
    source.seed !== undefined && source.seed !== ''
      ? ['seed', source.seed]
      : source.keyFile !== undefined && source.keyFile !== ''
        ? ['key file', await readKeyFile(source.keyFile)]
        : [undefined, undefined];
  if (what === undefined || secret === undefined) return undefined;
  return deriveKeypair(secret, [], ss58Format, what);
}

/**
 * Derives `seed` further along hard junctions taken as text, whatever they look like: Substrate
 * URIs read a junction of digits as a number and one starting with `0x` as bytes, so `//7`,
 * `//07` and `//0x07` are one key. Here `["7"]`, `["07"]` and `["0x07"]` are three keys; a
 * junction that contains neither reading gives the same key as the URI `<seed>//<junction>`.
 */
export async function deriveKeypair(
  seed: string,
  junctions: readonly string[],
  ss58Format: number,
  what = 'seed',
): Promise<KeyringPair> {
  await cryptoWaitReady();
  const uri = seed.startsWith('//') ? `${DEV_PHRASE}${seed}` : seed;
  let parsed: ReturnType<typeof keyExtractSuri>;
  try {
    parsed = keyExtractSuri(uri);
  } catch {
    throw invalidSecret(what, 'not a mnemonic or 0x seed with an optional //path');
  }
  const miniSecret = secretSeed(parsed.phrase, parsed.password, what);
  const textJunctions = junctions.map((junction) =>
    new DeriveJunction().soft(compactAddLength(stringToU8a(junction))).harden(),
  );
  const pair = keyFromPath(sr25519PairFromSeed(miniSecret), [...parsed.path, ...textJunctions], 'sr25519');
  return new Keyring({ type: 'sr25519', ss58Format }).createFromPair(pair);
}

/** The SS58 address of {@link deriveKeypair}'s key: what billing gives a customer to pay into. */
export async function deriveAddress(
  seed: string,
  junctions: readonly string[],
  ss58Format: number,
): Promise<string> {
  return (await deriveKeypair(seed, junctions, ss58Format)).address;
}

function secretSeed(phrase: string, password: string | undefined, what: string): Uint8Array {
  if (isHex(phrase, 256)) return hexToU8a(phrase);
  if (isHex(phrase)) throw invalidSecret(what, 'a hex seed must be 32 bytes');
  if (!mnemonicValidate(phrase)) throw invalidSecret(what, 'not a valid BIP-39 mnemonic');
  return mnemonicToMiniSecret(phrase, password);
}

async function readKeyFile(path: string): Promise<string> {
  let text: string;
  try {
    text = (await readFile(path, 'utf8')).trim();
  } catch (err) {
    throw new ValidationError(
      'key file',
      [{ path, message: `cannot be read: ${(err as Error).message}` }],
      err,
    );
  }
  if (!text.startsWith('{')) return text;
  // btcli writes unencrypted hotkeys as JSON; the seed is preferred (it skips BIP-39 stretching).
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ValidationError('key file', [{ path, message: 'looks like JSON but does not parse' }]);
  }
  const record = typeof json === 'object' && json !== null ? (json as Record<string, unknown>) : {};
  const secret = record['secretSeed'] ?? record['secretPhrase'];
  if (typeof secret !== 'string' || secret === '') {
    throw new ValidationError('key file', [
      { path, message: 'JSON key file without secretSeed or secretPhrase' },
    ]);
  }
  return secret;
}

function invalidSecret(what: string, message: string): ValidationError {
  return new ValidationError('key', [{ path: what, message }]);
}
