import { describe, expect, it } from 'vitest';
import { NonceReplayCache } from './nonce-replay-cache.js';

const SECOND = 1_000_000_000n;

describe('NonceReplayCache', () => {
  it('claims a signer’s nonce once until it expires, then forgets it', () => {
    const cache = new NonceReplayCache();
    expect(cache.claim('alice', 'n1', 120n * SECOND, 0n)).toBe(true);
    expect(cache.claim('alice', 'n1', 120n * SECOND, 60n * SECOND)).toBe(false);
    expect(cache.claim('alice', 'n1', 120n * SECOND, 120n * SECOND)).toBe(false);
    // Past its expiry the entry is swept by the next claim; the window check refuses the nonce anyway.
    expect(cache.claim('alice', 'n2', 300n * SECOND, 121n * SECOND)).toBe(true);
    expect(cache.size).toBe(1);
  });

  it('keeps nonces of different signers apart', () => {
    const cache = new NonceReplayCache();
    expect(cache.claim('alice', 'n1', 10n * SECOND, 0n)).toBe(true);
    expect(cache.claim('bob', 'n1', 10n * SECOND, 0n)).toBe(true);
    expect(cache.claim('bob', 'n1', 10n * SECOND, 0n)).toBe(false);
  });
});
