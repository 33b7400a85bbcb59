import { describe, expect, it } from 'vitest';
import { eventually } from './eventually.js';

describe('eventually', () => {
  it('returns the first value that is there, reading until then', async () => {
    let reads = 0;
    const value = await eventually(() => (++reads < 3 ? undefined : { reads }), 'the third read', {
      intervalMs: 1,
    });
    expect(value).toEqual({ reads: 3 });
  });

  it('polls a condition: false is "not yet"', async () => {
    let reads = 0;
    await expect(eventually(() => ++reads >= 2, 'two reads', { intervalMs: 1 })).resolves.toBe(true);
    expect(reads).toBe(2);
  });

  it('lets until decide, and reads again after a read that throws', async () => {
    let reads = 0;
    const value = await eventually(
      () => {
        reads++;
        if (reads === 1) throw new Error('not up yet');
        return reads;
      },
      'four reads',
      { until: (n) => n >= 4, intervalMs: 1 },
    );
    expect(value).toBe(4);
  });

  it('gives up at the deadline, naming what it waited for and the last error', async () => {
    await expect(
      eventually(
        () => {
          throw new Error('connection refused');
        },
        () => 'the server',
        { timeoutMs: 30, intervalMs: 5 },
      ),
    ).rejects.toThrow(/^the server: not within 30 ms \(last error: Error: connection refused\)$/);
    await expect(eventually(() => undefined, 'nothing', { timeoutMs: 10, intervalMs: 5 })).rejects.toThrow(
      /^nothing: not within 10 ms$/,
    );
  });
});
