import { type ApiKeyLimits, type RateUsageReport } from '@tessera/contracts';
import { proxyErrors } from '../openai/openai-errors.js';

const WINDOW_MS = 60_000;
const BUCKET_MS = 5_000;
const BUCKETS = WINDOW_MS / BUCKET_MS;

/** A minute of counts in 5-second buckets (a sliding window, 12 steps). */
class MinuteCounter {
  private readonly requests = new Array<number>(BUCKETS).fill(0);
  private readonly tokens = new Array<number>(BUCKETS).fill(0);
  private readonly stamps = new Array<number>(BUCKETS).fill(-1);

  add(nowMs: number, requests: number, tokens: number): void {
    const index = this.slot(nowMs);
    this.requests[index]! += requests;
    this.tokens[index]! += tokens;
  }

  totals(nowMs: number): { requests: number; tokens: number; oldestMs: number | undefined } {
    const current = Math.floor(nowMs / BUCKET_MS);
    let requests = 0;
    let tokens = 0;
    let oldest: number | undefined;
    for (let index = 0; index < BUCKETS; index++) {
      const stamp = this.stamps[index]!;
      if (stamp < 0 || current - stamp >= BUCKETS) continue;
      requests += this.requests[index]!;
      tokens += this.tokens[index]!;
      if (this.requests[index]! > 0 || this.tokens[index]! > 0) oldest = Math.min(oldest ?? stamp, stamp);
    }
    return { requests, tokens, oldestMs: oldest === undefined ? undefined : oldest * BUCKET_MS };
  }

  private slot(nowMs: number): number {
    const stamp = Math.floor(nowMs / BUCKET_MS);
    const index = stamp % BUCKETS;
    if (this.stamps[index] !== stamp) {
      this.stamps[index] = stamp;
      this.requests[index] = 0;
      this.tokens[index] = 0;
    }
    return index;
  }
}

/** The `x-ratelimit-*` headers of an admitted request. */
export type RateLimitHeaders = Record<string, string>;

/**
 * Per-key RPM and TPM limits that hold across proxy replicas. Each replica counts what it admits
 * in a sliding minute and broadcasts its counts every interval (core NATS, `RATE_USAGE_SUBJECT`);
 * a key is admitted against its own count plus the last report of every other live replica.
 * Chosen over a shared NATS KV counter because that puts a round trip (and a compare-and-set
 * conflict under load) on every request; the broadcast keeps the hot path in memory, and the
 * error is what the other replicas admitted within one interval (1 s of a 60 s window: under
 * 2 % per replica at a steady rate, inside the 10 % the issue allows).
 */
export class RateLimiter {
  private readonly local = new Map<string, MinuteCounter>();
  private readonly remote = new Map<
    string,
    { receivedAtMs: number; keys: Map<string, { requests: number; tokens: number }> }
  >();

  constructor(
    private readonly source: string,
    private readonly staleAfterMs: number,
  ) {}

  /**
   * Admits one request estimated at `tokens`, or throws `RATE_LIMITED` (429 with retry-after).
   * Returns the headers to send.
   */
  admit(keyId: string, limits: ApiKeyLimits, tokens: number, nowMs: number): RateLimitHeaders {
    if (limits.requestsPerMinute === null && limits.tokensPerMinute === null) return {};
    const counter = this.counter(keyId);
    const mine = counter.totals(nowMs);
    const others = this.othersOf(keyId, nowMs);
    const usedRequests = mine.requests + others.requests;
    const usedTokens = mine.tokens + others.tokens;
    const resetSeconds =
      mine.oldestMs === undefined ? 60 : Math.max(1, Math.ceil((mine.oldestMs + WINDOW_MS - nowMs) / 1000));
    if (limits.requestsPerMinute !== null && usedRequests + 1 > limits.requestsPerMinute) {
      throw proxyErrors.rateLimited('requests', resetSeconds);
    }
    if (limits.tokensPerMinute !== null && usedTokens + tokens > limits.tokensPerMinute) {
      throw proxyErrors.rateLimited('tokens', resetSeconds);
    }
    counter.add(nowMs, 1, tokens);
    const headers: RateLimitHeaders = {};
    if (limits.requestsPerMinute !== null) {
      headers['x-ratelimit-limit-requests'] = String(limits.requestsPerMinute);
      headers['x-ratelimit-remaining-requests'] = String(
        Math.max(0, limits.requestsPerMinute - usedRequests - 1),
      );
      headers['x-ratelimit-reset-requests'] = `${resetSeconds}s`;
    }
    if (limits.tokensPerMinute !== null) {
      headers['x-ratelimit-limit-tokens'] = String(limits.tokensPerMinute);
      headers['x-ratelimit-remaining-tokens'] = String(
        Math.max(0, limits.tokensPerMinute - usedTokens - tokens),
      );
      headers['x-ratelimit-reset-tokens'] = `${resetSeconds}s`;
    }
    return headers;
  }

  /** Corrects a request's token count once its real usage is known (negative to give back). */
  correct(keyId: string, tokenDelta: number, nowMs: number): void {
    if (tokenDelta !== 0) this.local.get(keyId)?.add(nowMs, 0, tokenDelta);
  }

  /** This replica's report for the others. */
  report(nowMs: number): RateUsageReport {
    const keys: RateUsageReport['keys'] = [];
    for (const [keyId, counter] of this.local) {
      const totals = counter.totals(nowMs);
      if (totals.requests === 0 && totals.tokens <= 0) {
        this.local.delete(keyId);
        continue;
      }
      keys.push({ keyId, requests: totals.requests, tokens: Math.max(0, totals.tokens) });
    }
    return { source: this.source, sentAt: nowMs, keys };
  }

  /** Takes another replica's report (our own is ignored). */
  receive(report: RateUsageReport, nowMs: number): void {
    if (report.source === this.source) return;
    this.remote.set(report.source, {
      receivedAtMs: nowMs,
      keys: new Map(report.keys.map((key) => [key.keyId, { requests: key.requests, tokens: key.tokens }])),
    });
  }

  private othersOf(keyId: string, nowMs: number): { requests: number; tokens: number } {
    let requests = 0;
    let tokens = 0;
    for (const [source, replica] of this.remote) {
      if (nowMs - replica.receivedAtMs > this.staleAfterMs) {
        this.remote.delete(source);
        continue;
      }
      const counts = replica.keys.get(keyId);
      if (counts) {
        requests += counts.requests;
        tokens += counts.tokens;
      }
    }
    return { requests, tokens };
  }

  private counter(keyId: string): MinuteCounter {
    let counter = this.local.get(keyId);
    if (!counter) {
      counter = new MinuteCounter();
      this.local.set(keyId, counter);
    }
    return counter;
  }
}
