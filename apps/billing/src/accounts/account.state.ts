import { type ApiKeyLimits, type ApiKeyScope } from '@tessera/contracts';

/** A credit grant as the account aggregate sees it. */
export interface GrantState {
  readonly grantId: string;
  readonly holder: string;
  readonly granted: bigint;
  remaining: bigint;
  readonly expiresAt: number;
  status: 'open' | 'settled' | 'expired';
  /** What a settle charged and returned, so a retried settle answers the same. */
  settlement: { charged: bigint; returned: bigint } | undefined;
  /** Sum of usage charged against this grant (what a settle of the previous release charged). */
  charged: bigint;
  /** When the grant closed (ms since epoch, from the closing event), for the retention window. */
  closedAt: number | undefined;
}

/** An API key as the account aggregate sees it (the hash only; the secret is never kept). */
export interface ApiKeyState {
  readonly keyId: string;
  readonly name: string;
  readonly secretHash: string;
  readonly scopes: readonly ApiKeyScope[];
  readonly limits: ApiKeyLimits;
  readonly expiresAt: string | null;
  revoked: boolean;
}

/** What an idempotency key was first used for, and when (the event's `occurredAt`, ms). */
export interface IdempotencyRecord {
  /** The content first seen with the key; a different content under it is a mismatch. */
  readonly fingerprint: string;
  readonly at: number;
  /** What the first use produced, to answer a retry the same way (a grant id; a charge's amount and price version). */
  readonly outcome: string;
}

/** A deposit booked on `tao:suspense` for this account (no TAO price at the time). */
export interface PendingDeposit {
  readonly amountRao: bigint;
  readonly blockHash: string;
  readonly blockNumber: number;
  readonly eventIndex: number;
  readonly from: string;
}

/**
 * One customer account: lifecycle, keys and money. Everything that moves a customer's money
 * lives on this one stream, so optimistic concurrency on it serialises every debit: no two
 * writers can both spend the same balance.
 */
export interface AccountState {
  opened: boolean;
  accountId: string;
  name: string;
  status: 'open' | 'suspended' | 'closed';
  depositAddress: string;
  /** Spendable balance, nano-USD; never negative. */
  balance: bigint;
  /** Sum of open grants' remainders. */
  held: bigint;
  /** Usage charged beyond allowance, grant and balance, not paid yet (the receivable). */
  owed: bigint;
  /** Grants in the order they were made; closed ones leave after the retention window. */
  readonly grants: Map<string, GrantState>;
  readonly keys: Map<string, ApiKeyState>;
  /**
   * Idempotency keys of credits, grants and usage, oldest first; those older than the retention
   * window (by the events' `occurredAt`) are dropped, so a busy account's state stays bounded.
   */
  readonly idempotency: Map<string, IdempotencyRecord>;
  /**
   * Every deposit ever booked, by key (`deposit:<blockHash>:<eventIndex>`), kept for good: a
   * deposit is money from outside, re-observing it must never credit it twice, and deposits are
   * few. The value is what crediting it produced (`<credited>|<priceVersion>`), empty while none.
   */
  readonly deposits: Map<string, string>;
  /** Deposits waiting on `tao:suspense` for a TAO price, by key. */
  readonly pendingDeposits: Map<string, PendingDeposit>;
  /** UTC day and the free allowance used on it. */
  allowanceDay: string;
  allowanceUsed: bigint;
}

export function initialAccountState(): AccountState {
  return {
    opened: false,
    accountId: '',
    name: '',
    status: 'open',
    depositAddress: '',
    balance: 0n,
    held: 0n,
    owed: 0n,
    grants: new Map(),
    keys: new Map(),
    idempotency: new Map(),
    deposits: new Map(),
    pendingDeposits: new Map(),
    allowanceDay: '',
    allowanceUsed: 0n,
  };
}

/**
 * Drops what the retention window no longer needs, as of `now` (an event's `occurredAt`): the
 * oldest idempotency keys, and closed grants (oldest first, stopping at the first one still open
 * or recent). Both maps keep insertion order, so this is cheap, and it depends on the events only,
 * so every replay prunes identically.
 */
export function pruneRetention(state: AccountState, now: number, retentionMs: number): void {
  const cutoff = now - retentionMs;
  for (const [key, record] of state.idempotency) {
    if (record.at >= cutoff) break;
    state.idempotency.delete(key);
  }
  for (const [grantId, grant] of state.grants) {
    if (grant.closedAt === undefined || grant.closedAt >= cutoff) break;
    state.grants.delete(grantId);
  }
}

/** Bump when {@link encodeAccountState}'s output changes shape: older snapshots are then rebuilt. */
export const ACCOUNT_SNAPSHOT_VERSION = 1;

interface EncodedAccountState {
  /** The retention window the state was pruned with; a snapshot made under another is rebuilt. */
  retentionMs: number;
  opened: boolean;
  accountId: string;
  name: string;
  status: AccountState['status'];
  depositAddress: string;
  balance: string;
  held: string;
  owed: string;
  grants: [
    string,
    string,
    string,
    string,
    number,
    GrantState['status'],
    string | null,
    string,
    number | null,
  ][];
  keys: ApiKeyState[];
  /**
   * The idempotency records, compact (a busy account holds a hundred thousand, and they make up
   * most of its snapshot): the keys, each record's time as the difference from the one before,
   * and the fingerprint and outcome only of those that have them, as `[index, fingerprint,
   * outcome, …]`. Keys stay whole: strings built while decoding cost more to hash than the bytes
   * a shorter spelling would save.
   */
  idempotencyKeys: string[];
  idempotencyAt: number[];
  idempotencyContent: (number | string)[];
  deposits: [string, string][];
  pendingDeposits: [string, string, string, number, number, string][];
  allowanceDay: string;
  allowanceUsed: string;
}

/** The account state as JSON-safe data for a snapshot (bigints as strings, maps as arrays). */
export function encodeAccountState(state: AccountState, retentionMs: number): EncodedAccountState {
  const idempotencyKeys: string[] = [];
  const idempotencyAt: number[] = [];
  const idempotencyContent: (number | string)[] = [];
  let previousAt = 0;
  for (const [key, record] of state.idempotency) {
    if (record.fingerprint !== '' || record.outcome !== '')
      idempotencyContent.push(idempotencyKeys.length, record.fingerprint, record.outcome);
    idempotencyKeys.push(key);
    idempotencyAt.push(record.at - previousAt);
    previousAt = record.at;
  }
  return {
    retentionMs,
    opened: state.opened,
    accountId: state.accountId,
    name: state.name,
    status: state.status,
    depositAddress: state.depositAddress,
    balance: state.balance.toString(),
    held: state.held.toString(),
    owed: state.owed.toString(),
    grants: [...state.grants.values()].map((grant) => [
      grant.grantId,
      grant.holder,
      grant.granted.toString(),
      grant.remaining.toString(),
      grant.expiresAt,
      grant.status,
      grant.settlement ? `${grant.settlement.charged}|${grant.settlement.returned}` : null,
      grant.charged.toString(),
      grant.closedAt ?? null,
    ]),
    keys: [...state.keys.values()],
    idempotencyKeys,
    idempotencyAt,
    idempotencyContent,
    deposits: [...state.deposits],
    pendingDeposits: [...state.pendingDeposits].map(([key, pending]) => [
      key,
      pending.amountRao.toString(),
      pending.blockHash,
      pending.blockNumber,
      pending.eventIndex,
      pending.from,
    ]),
    allowanceDay: state.allowanceDay,
    allowanceUsed: state.allowanceUsed.toString(),
  };
}

/**
 * The inverse of {@link encodeAccountState}. Throws for a snapshot pruned under another retention
 * window: the cache then rebuilds the state from the whole stream, so a replica never holds a
 * state that a fresh replay would not produce.
 */
export function decodeAccountState(encoded: unknown, retentionMs: number): AccountState {
  const data = encoded as EncodedAccountState;
  if (data.retentionMs !== retentionMs) {
    throw new RangeError(
      `snapshot pruned with a ${data.retentionMs} ms retention window, not ${retentionMs} ms: rebuilding`,
    );
  }
  const idempotency = new Map<string, IdempotencyRecord>();
  const keys = data.idempotencyKeys;
  const content = data.idempotencyContent;
  let at = 0;
  // Content entries come in index order: walk them alongside the keys.
  let next = 0;
  for (let index = 0; index < keys.length; index += 1) {
    at += data.idempotencyAt[index] ?? 0;
    let fingerprint = '';
    let outcome = '';
    if (content[next] === index) {
      fingerprint = content[next + 1] as string;
      outcome = content[next + 2] as string;
      next += 3;
    }
    idempotency.set(keys[index] as string, { fingerprint, at, outcome });
  }
  return {
    opened: data.opened,
    accountId: data.accountId,
    name: data.name,
    status: data.status,
    depositAddress: data.depositAddress,
    balance: BigInt(data.balance),
    held: BigInt(data.held),
    owed: BigInt(data.owed),
    grants: new Map(
      data.grants.map(
        ([grantId, holder, granted, remaining, expiresAt, status, settlement, charged, closedAt]) => {
          const [settledCharge, settledReturn] = settlement?.split('|') ?? [];
          return [
            grantId,
            {
              grantId,
              holder,
              granted: BigInt(granted),
              remaining: BigInt(remaining),
              expiresAt,
              status,
              settlement:
                settledCharge === undefined || settledReturn === undefined
                  ? undefined
                  : { charged: BigInt(settledCharge), returned: BigInt(settledReturn) },
              charged: BigInt(charged),
              closedAt: closedAt ?? undefined,
            },
          ];
        },
      ),
    ),
    keys: new Map(data.keys.map((key) => [key.keyId, { ...key }])),
    idempotency,
    deposits: new Map(data.deposits),
    pendingDeposits: new Map(
      data.pendingDeposits.map(([key, amountRao, blockHash, blockNumber, eventIndex, from]) => [
        key,
        { amountRao: BigInt(amountRao), blockHash, blockNumber, eventIndex, from },
      ]),
    ),
    allowanceDay: data.allowanceDay,
    allowanceUsed: BigInt(data.allowanceUsed),
  };
}
