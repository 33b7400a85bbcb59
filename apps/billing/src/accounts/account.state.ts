import { type ApiKeyLimits, type ApiKeyScope } from '@tessera/contracts';

/** A credit grant as the account aggregate sees it. */
export interface GrantState {
  readonly grantId: string;
  readonly holder: string;
  readonly granted: bigint;
  remaining: bigint;
  readonly expiresAt: number;
  status: 'open' | 'settled' | 'expired';
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
  readonly grants: Map<string, GrantState>;
  readonly keys: Map<string, ApiKeyState>;
  /** Idempotency key → fingerprint of the content first seen with it. */
  readonly idempotency: Map<string, string>;
  /** Grant idempotency key → grant id, to answer a retried grantCredit with the same grant. */
  readonly grantsByKey: Map<string, string>;
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
    grants: new Map(),
    keys: new Map(),
    idempotency: new Map(),
    grantsByKey: new Map(),
    allowanceDay: '',
    allowanceUsed: 0n,
  };
}
