import { Inject, Injectable } from '@nestjs/common';
import { streamIdOf, type Event } from '@tessera/contracts';
import { AggregateCache, EventStore, SnapshotStore } from '@tessera/eventstore';
import { InjectLogger, type PlatformLogger } from '@tessera/platform';
import { BillingConfig } from '../config.js';
import { executeFresh, observingConflicts } from '../shared/aggregates.js';
import { billingErrors } from '../shared/errors.js';
import { CLOCK, type Clock } from '../shared/tokens.js';
import { createAccountDecider, type AccountCommand } from './account.decider.js';
import {
  ACCOUNT_SNAPSHOT_VERSION,
  decodeAccountState,
  encodeAccountState,
  type AccountState,
} from './account.state.js';

/** The stream of a customer account. */
export const accountStreamId = (accountId: string): string => streamIdOf('billing', 'account', accountId);

/** What one command on an account produced. */
export interface AccountCommandResult {
  readonly state: AccountState;
  readonly events: readonly Event[];
}

/**
 * Every command on customer accounts goes through here: it runs the account decider on the
 * cached aggregate (snapshotted every `ACCOUNT_SNAPSHOT_EVERY` events, so a busy account loads in
 * bounded time), and makes sure a refusal is never the product of a stale cache.
 */
@Injectable()
export class AccountService {
  private readonly cache: AggregateCache<AccountCommand, AccountState>;
  private readonly store: EventStore;
  readonly dailyAllowance: bigint;
  readonly minimumDepositRao: bigint;
  /** Appends that lost a race with another replica (then decided again on fresh state). */
  conflicts = 0;

  constructor(
    store: EventStore,
    config: BillingConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @InjectLogger() private readonly logger: PlatformLogger,
  ) {
    this.store = observingConflicts(store, (streamId) => {
      this.conflicts += 1;
      this.logger.debug(
        { streamId, conflicts: this.conflicts },
        'account moved under this replica; deciding again',
      );
    });
    const retentionMs = config.IDEMPOTENCY_RETENTION_MS;
    this.cache = new AggregateCache(
      this.store,
      createAccountDecider({ idempotencyRetentionMs: retentionMs }),
      {
        logger,
        snapshots: {
          store: new SnapshotStore(store.connection, store.namespace, { replicas: config.STREAM_REPLICAS }),
          every: config.ACCOUNT_SNAPSHOT_EVERY,
          schemaVersion: ACCOUNT_SNAPSHOT_VERSION,
          encode: (state) => encodeAccountState(state, retentionMs),
          decode: (encoded) => decodeAccountState(encoded, retentionMs),
        },
      },
    );
    this.dailyAllowance = BigInt(config.FREE_DAILY_ALLOWANCE_NANO_USD);
    this.minimumDepositRao = BigInt(config.MIN_DEPOSIT_RAO);
  }

  /** Runs one command; `actor` is recorded on the events. */
  execute(command: AccountCommand, actor: string): Promise<AccountCommandResult> {
    return executeFresh(
      this.cache,
      this.store,
      accountStreamId(command.accountId),
      command,
      { actor },
      this.logger,
    );
  }

  /**
   * The account's state as this replica knows it (never waiting behind the account's queued
   * writes); NOT_FOUND when it was never opened. Read it synchronously: later commands evolve it.
   */
  async get(accountId: string): Promise<AccountState> {
    const streamId = accountStreamId(accountId);
    let state = await this.cache.read(streamId);
    if (!state.opened) {
      // Another replica may have opened it since this one cached it as unknown.
      this.cache.invalidate(streamId);
      state = await this.cache.read(streamId);
    }
    if (!state.opened) throw billingErrors.accountNotFound(accountId);
    return state;
  }

  now(): Date {
    return this.clock.now();
  }
}
