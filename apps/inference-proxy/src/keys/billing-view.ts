import {
  AccountClosed,
  AccountReinstated,
  AccountSuspended,
  ApiKeyIssued,
  ApiKeyRevoked,
  ModelPriceSet,
  parseApiKey,
  verifyApiKeySecret,
  type ApiKeyLimits,
  type ApiKeyScope,
  type Clock,
  type Event,
  type EventContract,
} from '@tessera/contracts';
import { proxyErrors } from '../openai/openai-errors.js';

/** A key as every replica holds it: the keyed hash of its secret, never the secret. */
interface KnownKey {
  keyId: string;
  accountId: string;
  secretHash: string;
  scopes: ReadonlySet<ApiKeyScope>;
  limits: ApiKeyLimits;
  expiresAtMs: number | null;
  revoked: boolean;
}

/** Who is calling, once the key checked out. */
export interface Caller {
  keyId: string;
  accountId: string;
  limits: ApiKeyLimits;
}

/** A model's token prices (nano-USD per million tokens). */
export interface ModelPrice {
  inputNanoUsdPerMillion: bigint;
  outputNanoUsdPerMillion: bigint;
}

/**
 * What the proxy knows from billing's events, in memory: keys (verified locally with the shared
 * pepper, in constant time), account standing and model prices. Fed by a stream follower over
 * BILLING, so a revocation reaches every replica as fast as JetStream delivers it.
 */
export class BillingView {
  /** The billing events this view applies. */
  static readonly handles: readonly EventContract[] = [
    ApiKeyIssued,
    ApiKeyRevoked,
    AccountSuspended,
    AccountReinstated,
    AccountClosed,
    ModelPriceSet,
  ];

  private readonly keys = new Map<string, KnownKey>();
  private readonly blockedAccounts = new Map<string, 'suspended' | 'closed'>();
  private readonly prices = new Map<string, ModelPrice>();

  constructor(
    private readonly pepper: string,
    private readonly clock: Clock,
  ) {}

  apply(event: Event): void {
    if (ApiKeyIssued.is(event)) {
      const data = event.data;
      this.keys.set(data.keyId, {
        keyId: data.keyId,
        accountId: data.accountId,
        secretHash: data.secretHash,
        scopes: new Set(data.scopes),
        limits: data.limits,
        expiresAtMs: data.expiresAt === null ? null : Date.parse(data.expiresAt),
        revoked: false,
      });
    } else if (ApiKeyRevoked.is(event)) {
      const key = this.keys.get(event.data.keyId);
      if (key) key.revoked = true;
    } else if (AccountSuspended.is(event)) {
      if (this.blockedAccounts.get(event.data.accountId) !== 'closed')
        this.blockedAccounts.set(event.data.accountId, 'suspended');
    } else if (AccountReinstated.is(event)) {
      this.blockedAccounts.delete(event.data.accountId);
    } else if (AccountClosed.is(event)) {
      this.blockedAccounts.set(event.data.accountId, 'closed');
    } else if (ModelPriceSet.is(event)) {
      this.prices.set(event.data.model, {
        inputNanoUsdPerMillion: BigInt(event.data.inputNanoUsdPerMillion),
        outputNanoUsdPerMillion: BigInt(event.data.outputNanoUsdPerMillion),
      });
    }
  }

  /**
   * The caller behind an `Authorization` header value, or a typed refusal: 401 for a missing,
   * malformed, unknown, wrong, revoked or expired key (one message for all, so nobody learns
   * which keys exist), 403 when the key lacks `scope` (undefined: any valid key will do) or the
   * account is suspended or closed.
   */
  authenticate(authorization: string | undefined, scope: ApiKeyScope | undefined): Caller {
    const presented = authorization?.startsWith('Bearer ') ? authorization.slice(7).trim() : undefined;
    const parts = presented === undefined ? undefined : parseApiKey(presented);
    const key = parts === undefined ? undefined : this.keys.get(parts.keyId);
    if (!parts || !key || !verifyApiKeySecret(this.pepper, parts.secret, key.secretHash)) {
      throw proxyErrors.invalidApiKey();
    }
    if (key.revoked || (key.expiresAtMs !== null && key.expiresAtMs <= this.clock.now().getTime())) {
      throw proxyErrors.invalidApiKey('This API key has been revoked or has expired.');
    }
    if (scope !== undefined && !key.scopes.has(scope)) throw proxyErrors.missingScope(scope);
    const blocked = this.blockedAccounts.get(key.accountId);
    if (blocked) throw proxyErrors.accountBlocked(blocked);
    return { keyId: key.keyId, accountId: key.accountId, limits: key.limits };
  }

  /** The price of a model's tokens, or undefined when billing has none (the model is not sold). */
  priceOf(model: string): ModelPrice | undefined {
    return this.prices.get(model);
  }
}

/** What `promptTokens` in and `completionTokens` out cost, rounded up to the nano-USD (billing's rule). */
export function tokenCost(price: ModelPrice, promptTokens: number, completionTokens: number): bigint {
  const total =
    BigInt(promptTokens) * price.inputNanoUsdPerMillion +
    BigInt(completionTokens) * price.outputNanoUsdPerMillion;
  return (total + 999_999n) / 1_000_000n;
}
