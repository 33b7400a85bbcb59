import { describe, expect, it } from 'vitest';
import { chainEventId, derivedEventId } from './event-id.js';

const HASH = `0x${'ab'.repeat(32)}`;

describe('chainEventId', () => {
  it('gives the same RFC 9562 version-8 UUID for the same (block hash, event index, type)', () => {
    const id = chainEventId(HASH, 3, 'chain.TransferObserved');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(chainEventId(HASH, 3, 'chain.TransferObserved')).toBe(id);
  });

  it('differs when the event index, the block or the type differs', () => {
    const base = chainEventId(HASH, 3, 'chain.TransferObserved');
    expect(chainEventId(HASH, 4, 'chain.TransferObserved')).not.toBe(base);
    expect(chainEventId(`0x${'cd'.repeat(32)}`, 3, 'chain.TransferObserved')).not.toBe(base);
    expect(chainEventId(HASH, 3, 'chain.StakeAdded')).not.toBe(base);
  });

  it('is sha256 of the parts joined by colons, first 16 bytes', () => {
    // sha256("a:1") = 0ed1a2b6b4ba52cfd1aeb5f5a1a1e6d8... version/variant nibbles overwritten.
    expect(derivedEventId('a', 1)).toBe(derivedEventId('a:1'));
  });
});
