import { describe, expect, it } from 'vitest';
import { FakeClock } from './clock.js';
import { sequentialIds, sequentialUuids, uuidv7 } from './ids.js';

describe('FakeClock', () => {
  it('moves only when told', () => {
    const clock = new FakeClock('2025-03-01T00:00:00Z');
    expect(clock.now().toISOString()).toBe('2025-03-01T00:00:00.000Z');
    clock.advance(1_500);
    expect(clock.now().toISOString()).toBe('2025-03-01T00:00:01.500Z');
    clock.set('2024-12-31T23:59:59Z');
    expect(clock.now().toISOString()).toBe('2024-12-31T23:59:59.000Z');
    expect(() => clock.advance(-1)).toThrow(RangeError);
  });

  it('hands out copies, so a caller cannot move it', () => {
    const clock = new FakeClock();
    clock.now().setFullYear(1999);
    expect(clock.now().getUTCFullYear()).toBe(2025);
  });
});

describe('ids', () => {
  it('makes readable sequential ids that sort in order', () => {
    const nextAccount = sequentialIds('account');
    expect([nextAccount(), nextAccount()]).toEqual(['account-0001', 'account-0002']);
    const nextUuid = sequentialUuids();
    expect(nextUuid()).toBe('00000000-0000-7000-8000-000000000001');
  });

  it('makes UUIDv7s', () => {
    expect(uuidv7()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
