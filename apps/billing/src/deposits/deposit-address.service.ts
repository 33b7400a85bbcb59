import { Injectable } from '@nestjs/common';
import { AggregateCache, EventStore } from '@tessera/eventstore';
import { InjectLogger, type PlatformLogger } from '@tessera/platform';
import { executeFresh } from '../shared/aggregates.js';
import {
  depositAddressDecider,
  depositAddressStreamId,
  type DepositAddressCommand,
  type DepositAddressState,
} from './deposit-address.decider.js';
import { type ObservedDeposit } from './deposit.decide.js';

/** Commands on deposit address aggregates, through a cache like the accounts'. */
@Injectable()
export class DepositAddressService {
  private readonly cache: AggregateCache<DepositAddressCommand, DepositAddressState>;

  constructor(
    private readonly store: EventStore,
    @InjectLogger() private readonly logger: PlatformLogger,
  ) {
    this.cache = new AggregateCache(store, depositAddressDecider, { logger });
  }

  private async execute(command: DepositAddressCommand, actor: string): Promise<DepositAddressState> {
    const { state } = await executeFresh(
      this.cache,
      this.store,
      depositAddressStreamId(command.address),
      command,
      { actor },
      this.logger,
    );
    return state;
  }

  /** Claims `address` for `accountId`; DEPOSIT_ADDRESS_TAKEN when another account holds it. */
  claim(address: string, accountId: string, actor: string): Promise<DepositAddressState> {
    return this.execute({ kind: 'claim', address, accountId }, actor);
  }

  /** Records a transfer to `address`: booked on suspense when nobody claimed it. Returns the address's state. */
  receive(address: string, deposit: ObservedDeposit): Promise<DepositAddressState> {
    return this.execute({ kind: 'receive', address, deposit }, 'service:billing');
  }

  /** Hands a deposit suspended on `address` to `accountId` (once). */
  release(
    address: string,
    depositKey: string,
    accountId: string,
    by: 'claimant-only' | 'operator',
    actor: string,
  ): Promise<DepositAddressState> {
    return this.execute({ kind: 'release', address, depositKey, accountId, by }, actor);
  }

  /** The address's state read from the event store now (a claim made by another replica included). */
  async fresh(address: string): Promise<DepositAddressState> {
    const streamId = depositAddressStreamId(address);
    this.cache.invalidate(streamId);
    return this.cache.read(streamId);
  }
}
