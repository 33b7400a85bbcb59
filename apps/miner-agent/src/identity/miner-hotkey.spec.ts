import { describe, expect, it } from 'vitest';
import { loadMinerHotkey } from './miner-hotkey.js';

describe('loadMinerHotkey', () => {
  it('uses the configured seed', async () => {
    const { pair, isDevelopmentKey } = await loadMinerHotkey({
      NODE_ENV: 'production',
      MINER_HOTKEY_SEED: '//Configured',
      SS58_FORMAT: 42,
    });
    expect(isDevelopmentKey).toBe(false);
    expect(pair.address).toMatch(/^5/);
  });

  it('refuses to run in production without a hotkey, and says which variables to set', async () => {
    await expect(loadMinerHotkey({ NODE_ENV: 'production', SS58_FORMAT: 42 })).rejects.toThrow(
      /MINER_HOTKEY_SEED or MINER_HOTKEY_FILE/,
    );
  });

  it('falls back to the public development key elsewhere, and says so', async () => {
    const first = await loadMinerHotkey({ NODE_ENV: 'development', SS58_FORMAT: 42 });
    const second = await loadMinerHotkey({ NODE_ENV: 'test', SS58_FORMAT: 42 });
    expect(first.isDevelopmentKey).toBe(true);
    expect(second.pair.address).toBe(first.pair.address);
  });
});
