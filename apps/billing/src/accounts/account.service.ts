import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  accountOfGrant,
  formatApiKey,
  hashApiKeySecret,
  streamIdOf,
  type ApiKeyLimits,
  type ApiKeyScope,
  type Event,
} from '@tessera/contracts';
import { AggregateCache, EventStore } from '@tessera/eventstore';
import { v7 as uuidv7 } from 'uuid';
import { BillingConfig, type BillingSecrets } from '../config.js';
import { billingErrors } from '../shared/errors.js';
import { CLOCK, utcDay, type Clock } from '../shared/tokens.js';
import {
  accountDecider,
  type AccountCommand,
  type ObservedDeposit,
  type UsageCharge,
} from './account.decider.js';
import { type AccountState, type GrantState } from './account.state.js';
import { DepositAddressDeriver } from './deposit-address.js';

export const BILLING_SECRETS = Symbol.for('tessera.billing.secrets');
export const DEPOSIT_DERIVER = Symbol.for('tessera.billing.depositDeriver');

/** The stream of a customer account. */
export const accountStreamId = (accountId: string): string => streamIdOf('billing', 'account', accountId);

/**
 * Every command on customer accounts goes through here: it fills in time, ids and configuration,
 * and runs the account decider on the cached aggregate.
 */
@Injectable()
export class AccountService {
  private readonly cache: AggregateCache<AccountCommand, AccountState>;
  readonly dailyAllowance: bigint;
  readonly minimumDepositRao: bigint;

  constructor(
    store: EventStore,
    private readonly config: BillingConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(BILLING_SECRETS) private readonly secrets: BillingSecrets,
    @Inject(DEPOSIT_DERIVER) private readonly deriver: DepositAddressDeriver,
  ) {
    this.cache = new AggregateCache(store, accountDecider);
    this.dailyAllowance = BigInt(config.FREE_DAILY_ALLOWANCE_NANO_USD);
    this.minimumDepositRao = BigInt(config.MIN_DEPOSIT_RAO);
  }

  /** Runs one command; `actor` is recorded on the events. */
  execute(
    command: AccountCommand,
    actor = 'service:billing',
  ): Promise<{ state: AccountState; events: readonly Event[] }> {
    return this.cache.execute(accountStreamId(command.accountId), command, { actor });
  }

  /** The account's state; NOT_FOUND when it was never opened. */
  async get(accountId: string): Promise<AccountState> {
    const state = await this.cache.read(accountStreamId(accountId));
    if (!state.opened) throw billingErrors.accountNotFound(accountId);
    return state;
  }

  /** Drops cached state (tests: simulate a fresh replica). */
  forgetCache(): void {
    this.cache.clear();
  }

  now(): Date {
    return this.clock.now();
  }

  async open(accountId: string, name: string, actor: string): Promise<AccountState> {
    const depositAddress = this.deriver.addressFor(accountId);
    return (await this.execute({ kind: 'open', accountId, name, depositAddress }, actor)).state;
  }

  async issueKey(
    request: {
      accountId: string;
      name: string;
      scopes: ApiKeyScope[];
      limits: ApiKeyLimits;
      expiresAt: string | null;
    },
    actor: string,
  ): Promise<{ keyId: string; key: string }> {
    const keyId = randomBytes(10).toString('hex').slice(0, 16);
    const secret = randomBytes(32).toString('base64url');
    await this.execute(
      {
        kind: 'issueKey',
        ...request,
        keyId,
        secretHash: hashApiKeySecret(this.secrets.apiKeyPepper, secret),
      },
      actor,
    );
    return { keyId, key: formatApiKey(keyId, secret) };
  }

  async grant(
    request: { accountId: string; holder: string; requested: bigint; idempotencyKey?: string | undefined },
    actor: string,
  ): Promise<GrantState> {
    const grantId = `${request.accountId}:${uuidv7()}`;
    const idempotencyKey = request.idempotencyKey ?? grantId;
    const expiresAt = new Date(this.clock.now().getTime() + this.config.GRANT_TTL_MS);
    const { state } = await this.execute(
      {
        kind: 'grant',
        accountId: request.accountId,
        grantId,
        idempotencyKey,
        holder: request.holder,
        requested: request.requested,
        expiresAt,
      },
      actor,
    );
    // A retried call with the same key finds the grant the first call made.
    const madeBy = state.grantsByKey.get(`grant:${idempotencyKey}`);
    const grant = madeBy === undefined ? undefined : state.grants.get(madeBy);
    if (!grant) throw new Error(`grant for key ${idempotencyKey} missing after it was decided`);
    return grant;
  }

  async settle(
    grantId: string,
    usage: { requestId: string; amount: bigint; item: string }[],
    actor: string,
  ): Promise<{ charged: bigint; returned: bigint }> {
    const accountId = accountOfGrant(grantId);
    const now = this.clock.now();
    const { events } = await this.execute(
      {
        kind: 'settle',
        accountId,
        grantId,
        usage,
        day: utcDay(now),
        dailyAllowance: this.dailyAllowance,
        now,
      },
      actor,
    );
    let charged = 0n;
    let returned = 0n;
    for (const event of events) {
      const data = event.data as { amount?: string; returned?: string };
      if (event.type === 'billing.UsageCharged' && data.amount) charged += BigInt(data.amount);
      if (event.type === 'billing.GrantSettled' && data.returned) returned = BigInt(data.returned);
    }
    return { charged, returned };
  }

  expireGrant(grantId: string): Promise<unknown> {
    return this.execute({
      kind: 'expireGrant',
      accountId: accountOfGrant(grantId),
      grantId,
      now: this.clock.now(),
    });
  }

  charge(
    accountId: string,
    charge: UsageCharge,
    overdraft: 'refuse' | 'cap',
    fingerprint: string | undefined,
    actor = 'service:billing',
  ): Promise<{ state: AccountState; events: readonly Event[] }> {
    return this.execute(
      { kind: 'charge', accountId, charge, dailyAllowance: this.dailyAllowance, overdraft, fingerprint },
      actor,
    );
  }

  creditDeposit(
    accountId: string,
    deposit: ObservedDeposit,
    taoPrice: { nanoUsdPerTao: bigint; priceVersion: number } | undefined,
  ): Promise<unknown> {
    return this.execute({
      kind: 'creditDeposit',
      accountId,
      deposit,
      minimumRao: this.minimumDepositRao,
      taoPrice,
    });
  }
}
