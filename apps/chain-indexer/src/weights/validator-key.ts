import { readFileSync } from 'node:fs';
import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import { cryptoWaitReady } from '@polkadot/util-crypto';

/**
 * The validator hotkey (sr25519) from `VALIDATOR_SEED` (mnemonic, `//Dev` URI or 0x seed) or the
 * file `VALIDATOR_KEY_FILE` holding the same. Only the address ever leaves this function's
 * caller in logs; the secret stays in the pair.
 */
export async function loadValidatorKey(
  source: { seed?: string | undefined; keyFile?: string | undefined },
  ss58Format: number,
): Promise<KeyringPair | undefined> {
  const secret = source.seed ?? (source.keyFile ? readFileSync(source.keyFile, 'utf8').trim() : undefined);
  if (secret === undefined || secret === '') return undefined;
  await cryptoWaitReady();
  return new Keyring({ type: 'sr25519', ss58Format }).addFromUri(secret);
}
