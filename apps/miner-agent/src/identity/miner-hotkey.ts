import { loadKeypair } from '@tessera/bittensor';
import type { KeyringPair } from '@polkadot/keyring/types';
import { DEV_MINER_HOTKEY } from '../config.js';

/** The miner's hotkey, and whether it is the public development key. */
export interface MinerHotkey {
  pair: KeyringPair;
  isDevelopmentKey: boolean;
}

/**
 * Loads the hotkey from `MINER_HOTKEY_SEED` or `MINER_HOTKEY_FILE`. Without either it refuses
 * to run in production; elsewhere it uses a public development key (the caller logs that).
 */
export async function loadMinerHotkey(config: {
  NODE_ENV: 'development' | 'test' | 'production';
  MINER_HOTKEY_SEED?: string | undefined;
  MINER_HOTKEY_FILE?: string | undefined;
  SS58_FORMAT: number;
}): Promise<MinerHotkey> {
  const pair = await loadKeypair(
    { seed: config.MINER_HOTKEY_SEED, keyFile: config.MINER_HOTKEY_FILE },
    config.SS58_FORMAT,
  );
  if (pair) return { pair, isDevelopmentKey: false };
  if (config.NODE_ENV === 'production') {
    throw new Error('MINER_HOTKEY_SEED or MINER_HOTKEY_FILE: required when NODE_ENV=production');
  }
  const dev = await loadKeypair({ seed: DEV_MINER_HOTKEY }, config.SS58_FORMAT);
  if (!dev) throw new Error('could not derive the development hotkey');
  return { pair: dev, isDevelopmentKey: true };
}
