import { randomUUID } from 'node:crypto';
import { ErrorCode, GrantCredit, SettleGrant, isTesseraError, type Clock } from '@tessera/contracts';
import { type RpcClient } from '@tessera/platform/messaging';
import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import { type Logger } from 'pino';
import { proxyErrors } from '../openai/openai-errors.js';

/** Options for {@link CreditGrants}. */
export interface CreditGrantsOptions {
  rpc: RpcClient;
  /** This replica's name: the grants' holder. */
  holder: string;
  /** The most one grant asks for (an account spending fast gets grants this large). */
  target: bigint;
  /** Below this fraction of the target free, a fresh grant is asked for in the background. */
  lowWatermark: number;
  /** A grant nobody reserved from for this long is settled (its money goes back to the balance). */
  idleAfterMs: number;
  clock: Clock;
  logger: Logger;
}

/** Usage charged against a grant at settlement. */
interface Usage {
  requestId: string;
  amount: bigint;
  item: string;
}

interface Grant {
  grantId: string;
  accountId: string;
  granted: bigint;
  /** Settled usage so far (waiting for the settlement). */
  spent: bigint;
  /** Held by requests in flight. */
  reserved: bigint;
  usage: Usage[];
  expiresAtMs: number;
  grantedAtMs: number;
  lastReservedAtMs: number;
  /** No new reservations; settled once nothing is reserved. */
  retired: boolean;
  settling: boolean;
}

/** A grant billing made (none when it had nothing), and what was asked for it. */
interface AskedGrant {
  grant?: Grant;
  asked: bigint;
}

/** Money held for one request until it ends. */
export interface Reservation {
  readonly grantId: string | null;
  readonly amount: bigint;
  /** Charges `cost` (capped at the reservation) for `requestId` and frees the rest. Once. */
  settle(requestId: string, cost: bigint, item: string): void;
}

/** The window a grant's size is measured over. */
const RATE_WINDOW_MS = 10_000;

/** What an account reserved over the last {@link RATE_WINDOW_MS}, in one-second buckets. */
class SpendWindow {
  private readonly sums = new Array<bigint>(RATE_WINDOW_MS / 1000).fill(0n);
  private readonly stamps = new Array<number>(RATE_WINDOW_MS / 1000).fill(-1);

  add(nowMs: number, amount: bigint): void {
    const second = Math.floor(nowMs / 1000);
    const index = second % this.sums.length;
    if (this.stamps[index] !== second) {
      this.stamps[index] = second;
      this.sums[index] = 0n;
    }
    this.sums[index]! += amount;
  }

  total(nowMs: number): bigint {
    const second = Math.floor(nowMs / 1000);
    let total = 0n;
    for (let index = 0; index < this.sums.length; index++) {
      if (this.stamps[index]! >= 0 && second - this.stamps[index]! < this.sums.length)
        total += this.sums[index]!;
    }
    return total;
  }
}

/** Billing expires a grant on its own after its TTL: a grant past half of it is settled, well before. */
function isExpiring(grant: Grant, nowMs: number): boolean {
  return grant.expiresAtMs - nowMs < (grant.expiresAtMs - grant.grantedAtMs) / 2;
}

/** How long a refusal for want of funds is remembered, so a broke account costs billing one call per second. */
const NO_FUNDS_MEMORY_MS = 1_000;

const transient = handleWhen(
  (err) =>
    isTesseraError(err) &&
    [
      ErrorCode.Timeout,
      ErrorCode.NoResponders,
      ErrorCode.Unavailable,
      ErrorCode.ConcurrencyExhausted,
    ].includes(err.code as never),
);

/**
 * Credit grants per (account, this replica). Each request reserves its worst-case cost from a
 * local grant before anything goes upstream; when it ends, its real cost is recorded against the
 * grant and the rest freed. Grants are topped up in the background below the low watermark and
 * settled with billing in batches (`settleDue`, on an interval): a settled grant is closed, so the
 * next requests move to the fresh grant. Only the first request of an account (or one larger than
 * what is left) waits for billing.
 */
export class CreditGrants {
  private readonly grants = new Map<string, Grant[]>();
  private readonly pendingGrant = new Map<string, Promise<AskedGrant>>();
  /** What requests of each account that found no room are waiting for: the next grant covers all of it. */
  private readonly waiting = new Map<string, bigint>();
  private readonly brokeUntil = new Map<string, number>();
  private readonly settlements = new Set<Promise<void>>();
  private readonly settlementsByAccount = new Map<string, Set<Promise<void>>>();
  private readonly recentSpend = new Map<string, SpendWindow>();
  /** Accounts whose last grant came back with less than was asked: their balance is nearly spent. */
  private readonly shortOfFunds = new Set<string>();

  constructor(private readonly options: CreditGrantsOptions) {}

  /** Reserves `amount` for a request of `accountId`; throws `INSUFFICIENT_FUNDS` (402) when billing grants too little. */
  async reserve(accountId: string, amount: bigint): Promise<Reservation> {
    if (amount === 0n) return { grantId: null, amount, settle: () => undefined };
    let grant = this.grantWithRoom(accountId, amount);
    // Held at once, in the same turn as the room was found: no other request can take it meanwhile.
    if (grant) grant.reserved += amount;
    else {
      // Every request waiting counts in the next grant's size, so a burst is covered by one grant
      // instead of each new grant being used up by the requests that got there first.
      this.waiting.set(accountId, (this.waiting.get(accountId) ?? 0n) + amount);
      try {
        grant = await this.reserveFresh(accountId, amount);
      } finally {
        const left = (this.waiting.get(accountId) ?? 0n) - amount;
        if (left > 0n) this.waiting.set(accountId, left);
        else this.waiting.delete(accountId);
      }
    }
    grant.lastReservedAtMs = this.options.clock.now().getTime();
    this.spendOf(accountId).add(grant.lastReservedAtMs, amount);
    this.topUpIfLow(accountId);
    let settled = false;
    const held = grant;
    return {
      grantId: held.grantId,
      amount,
      settle: (requestId, cost, item) => {
        if (settled) return;
        settled = true;
        const charged = cost > amount ? amount : cost;
        if (cost > amount)
          this.options.logger.warn(
            { requestId, cost, amount },
            'cost above its reservation; charged the reservation',
          );
        held.reserved -= amount;
        if (charged > 0n) {
          held.spent += charged;
          held.usage.push({ requestId, amount: charged, item });
        }
        // A retired grant goes back to billing as soon as its last request ended.
        if (held.retired && held.reserved === 0n && !held.settling) void this.settle(accountId, held);
      },
    };
  }

  /**
   * Turns grants over: a used grant of an account in use is retired once the account's next grant
   * is in hand (asked for here first), so requests never wait between two grants; it is settled
   * with billing as soon as no request holds part of it. An account whose last grant came back
   * short (its balance is nearly spent) settles first instead, so its last money is back in the
   * balance before the next grant is asked for: a small balance is never locked in a grant on its
   * way out. Grants nobody used for a while, and grants halfway to their expiry, are retired too.
   */
  settleDue(): void {
    const now = this.options.clock.now().getTime();
    for (const [accountId, grants] of this.grants) {
      for (const grant of [...grants]) {
        if (!grant.retired) {
          const idle = now - grant.lastReservedAtMs >= this.options.idleAfterMs;
          const expiring = isExpiring(grant, now);
          if (!idle && !expiring && grant.usage.length === 0) continue;
          if (!idle && !this.shortOfFunds.has(accountId)) {
            if (!this.hasSuccessor(grant, now)) {
              // The next grant first; this one is retired at a later round, once that one is in.
              this.topUp(accountId);
              continue;
            }
            grant.retired = true;
          } else {
            // Nearly broke: settled once nothing is held, then the next grant, which may use what
            // this one gives back. (Expiring, it is retired now and the next grant asked for at once.)
            if (!idle && !expiring && grant.reserved > 0n) continue;
            grant.retired = true;
            if (!idle && grant.reserved > 0n) this.topUp(accountId);
            else if (!idle) {
              void this.settle(accountId, grant).then(() => this.topUp(accountId));
              continue;
            }
          }
        }
        if (grant.reserved === 0n && !grant.settling) void this.settle(accountId, grant);
      }
    }
  }

  /** Another open grant of the same account that can take the requests from `grant`. */
  private hasSuccessor(grant: Grant, now: number): boolean {
    return (this.grants.get(grant.accountId) ?? []).some(
      (other) =>
        other !== grant &&
        !other.retired &&
        !isExpiring(other, now) &&
        other.granted - other.spent - other.reserved > 0n,
    );
  }

  /** Settles every grant once its requests ended (shutdown). */
  async settleAll(): Promise<void> {
    for (const grants of this.grants.values()) for (const grant of grants) grant.retired = true;
    this.settleDue();
    await Promise.allSettled([...this.settlements]);
  }

  private grantWithRoom(accountId: string, amount: bigint): Grant | undefined {
    const now = this.options.clock.now().getTime();
    return this.grants
      .get(accountId)
      ?.find(
        (grant) =>
          !grant.retired && grant.expiresAtMs > now && grant.granted - grant.spent - grant.reserved >= amount,
      );
  }

  private topUpIfLow(accountId: string): void {
    const grants = this.grants.get(accountId) ?? [];
    let free = 0n;
    for (const grant of grants) if (!grant.retired) free += grant.granted - grant.spent - grant.reserved;
    const watermark =
      (this.grantSize(accountId, 0n) * BigInt(Math.round(this.options.lowWatermark * 1000))) / 1000n;
    if (free < watermark) this.topUp(accountId);
  }

  private topUp(accountId: string): void {
    if (this.pendingGrant.has(accountId)) return;
    void this.requestGrant(accountId, this.grantSize(accountId, 0n)).catch(() => undefined);
  }

  /**
   * Waits for a grant with room for `amount` and holds it there; throws `INSUFFICIENT_FUNDS` when
   * billing has too little.
   */
  private async reserveFresh(accountId: string, amount: bigint): Promise<Grant> {
    // Concurrent requests may still use up a fresh grant before this one gets to it: ask again.
    for (let attempt = 0; attempt < 5; attempt++) {
      if ((this.brokeUntil.get(accountId) ?? 0) > this.options.clock.now().getTime()) break;
      const fresh = await this.requestGrant(accountId, this.grantSize(accountId, amount));
      const grant = this.grantWithRoom(accountId, amount);
      if (grant) {
        grant.reserved += amount;
        return grant;
      }
      const settling = this.settlementsByAccount.get(accountId);
      if (settling && settling.size > 0) {
        // Money of this account is on its way back from a grant being settled: wait for it, ask again.
        await Promise.allSettled([...settling]);
        continue;
      }
      // Billing had less than that grant asked for (whoever asked): the balance is (nearly) spent.
      if (fresh.grant === undefined || fresh.grant.granted < fresh.asked) {
        this.brokeUntil.set(accountId, this.options.clock.now().getTime() + NO_FUNDS_MEMORY_MS);
      }
    }
    throw proxyErrors.insufficientFunds();
  }

  /**
   * How much to ask for: what the account reserved in the last {@link RATE_WINDOW_MS} (twice, so a
   * grant lasts a few settle intervals), at least four of the request at hand, at most the target,
   * and never less than what requests of the account are waiting for.
   * Sized by spend, one replica never holds a small balance whole while the others starve.
   */
  private grantSize(accountId: string, amount: bigint): bigint {
    const spent = this.spendOf(accountId).total(this.options.clock.now().getTime());
    let size = spent * 2n > amount * 4n ? spent * 2n : amount * 4n;
    if (size > this.options.target) size = this.options.target;
    const waiting = this.waiting.get(accountId) ?? 0n;
    if (size < waiting) size = waiting;
    if (size < amount) size = amount;
    return size > 0n ? size : 1n;
  }

  private spendOf(accountId: string): SpendWindow {
    let window = this.recentSpend.get(accountId);
    if (!window) {
      window = new SpendWindow();
      this.recentSpend.set(accountId, window);
    }
    return window;
  }

  /** One GrantCredit in flight per account; retried with the same idempotency key while transient. */
  private requestGrant(accountId: string, requested: bigint): Promise<AskedGrant> {
    const pending = this.pendingGrant.get(accountId);
    if (pending) return pending;
    const idempotencyKey = `${this.options.holder}:${randomUUID()}`;
    const call = retry(transient, { maxAttempts: 3, backoff: new ExponentialBackoff({ maxDelay: 1_000 }) })
      .execute(() =>
        this.options.rpc.call(GrantCredit, {
          accountId,
          holder: this.options.holder,
          requested: requested.toString(),
          idempotencyKey,
        }),
      )
      .then(
        (answer) => {
          const granted = BigInt(answer.granted);
          if (granted < requested) this.shortOfFunds.add(accountId);
          else this.shortOfFunds.delete(accountId);
          if (granted === 0n) return { asked: requested };
          const grant: Grant = {
            grantId: answer.grantId,
            accountId,
            granted,
            spent: 0n,
            reserved: 0n,
            usage: [],
            expiresAtMs: Date.parse(answer.expiresAt),
            grantedAtMs: this.options.clock.now().getTime(),
            lastReservedAtMs: this.options.clock.now().getTime(),
            retired: false,
            settling: false,
          };
          const list = this.grants.get(accountId) ?? [];
          list.push(grant);
          this.grants.set(accountId, list);
          return { grant, asked: requested };
        },
        (err: unknown): AskedGrant => {
          if (isTesseraError(err, ErrorCode.InsufficientFunds)) {
            this.shortOfFunds.add(accountId);
            return { asked: requested };
          }
          this.options.logger.warn({ err, accountId }, 'credit grant failed');
          throw err;
        },
      )
      .finally(() => this.pendingGrant.delete(accountId));
    this.pendingGrant.set(accountId, call);
    return call;
  }

  private settle(accountId: string, grant: Grant): Promise<void> {
    grant.settling = true;
    const usage = grant.usage.map((item) => ({
      requestId: item.requestId,
      amount: item.amount.toString(),
      item: item.item,
    }));
    const ofAccount = this.settlementsByAccount.get(accountId) ?? new Set<Promise<void>>();
    this.settlementsByAccount.set(accountId, ofAccount);
    const settlement: Promise<void> = retry(transient, {
      maxAttempts: 5,
      backoff: new ExponentialBackoff({ maxDelay: 2_000 }),
    })
      .execute(() =>
        this.options.rpc.call(SettleGrant, { grantId: grant.grantId, holder: this.options.holder, usage }),
      )
      .then(
        () => this.forget(accountId, grant),
        (err: unknown) => {
          // An expired or already closed grant: billing charges the usage from the
          // RequestCompleted events (each names its grant), so nothing is lost.
          this.options.logger.warn({ err, grantId: grant.grantId }, 'grant settlement failed');
          this.forget(accountId, grant);
        },
      )
      .finally(() => {
        this.settlements.delete(settlement);
        ofAccount.delete(settlement);
        if (ofAccount.size === 0) this.settlementsByAccount.delete(accountId);
      });
    this.settlements.add(settlement);
    ofAccount.add(settlement);
    return settlement;
  }

  private forget(accountId: string, grant: Grant): void {
    const list = (this.grants.get(accountId) ?? []).filter((candidate) => candidate !== grant);
    if (list.length === 0) this.grants.delete(accountId);
    else this.grants.set(accountId, list);
  }
}
