import { isTesseraError, ErrorCode } from '@tessera/contracts';
import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rate-limiter.js';

const limits = (requestsPerMinute: number | null, tokensPerMinute: number | null) => ({
  requestsPerMinute,
  tokensPerMinute,
});
const refused = (run: () => unknown): unknown => {
  try {
    run();
  } catch (err) {
    return err;
  }
  return undefined;
};

describe('RateLimiter', () => {
  it('admits up to the requests per minute, then refuses with a retry-after until the window slides', () => {
    const limiter = new RateLimiter('a', 3_000);
    const t0 = 1_000_000;
    expect(limiter.admit('k', limits(2, null), 1, t0)).toMatchObject({
      'x-ratelimit-limit-requests': '2',
      'x-ratelimit-remaining-requests': '1',
    });
    limiter.admit('k', limits(2, null), 1, t0 + 1);
    const err = refused(() => limiter.admit('k', limits(2, null), 1, t0 + 2));
    expect(isTesseraError(err, ErrorCode.RateLimited)).toBe(true);
    expect((err as { details: { retryAfterSeconds: number } }).details.retryAfterSeconds).toBeGreaterThan(0);
    expect(() => limiter.admit('k', limits(2, null), 1, t0 + 61_000)).not.toThrow();
  });

  it('counts tokens, and gives back what a request did not use', () => {
    const limiter = new RateLimiter('a', 3_000);
    limiter.admit('k', limits(null, 100), 80, 0);
    expect(
      isTesseraError(
        refused(() => limiter.admit('k', limits(null, 100), 30, 1)),
        ErrorCode.RateLimited,
      ),
    ).toBe(true);
    limiter.correct('k', -60, 2);
    expect(() => limiter.admit('k', limits(null, 100), 30, 3)).not.toThrow();
  });

  it("adds the other replicas' last reports, and forgets a replica that stopped reporting", () => {
    const a = new RateLimiter('a', 3_000);
    const b = new RateLimiter('b', 3_000);
    b.admit('k', limits(3, null), 1, 0);
    b.admit('k', limits(3, null), 1, 0);
    a.receive(b.report(10), 10);
    a.admit('k', limits(3, null), 1, 20);
    expect(
      isTesseraError(
        refused(() => a.admit('k', limits(3, null), 1, 30)),
        ErrorCode.RateLimited,
      ),
    ).toBe(true);
    // b went quiet: its counts no longer hold a back.
    expect(() => a.admit('k', limits(3, null), 1, 5_000)).not.toThrow();
  });

  it('ignores its own report and leaves keys without limits alone', () => {
    const a = new RateLimiter('a', 3_000);
    a.admit('k', limits(1, null), 1, 0);
    a.receive(a.report(1), 1);
    expect(a.admit('free', limits(null, null), 1_000_000, 2)).toEqual({});
    expect(a.report(3).keys).toEqual([{ keyId: 'k', requests: 1, tokens: 1 }]);
  });
});
