import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectLogger, ShutdownRegistry, type PlatformLogger } from '@tessera/platform';
import { DataSource } from 'typeorm';
import { AccountService } from '../accounts/account.service.js';
import { BillingConfig } from '../config.js';
import { LedgerTables } from '../ledger/ledger.projection.js';
import { PriceBookService } from '../prices/price-book.service.js';
import { billingErrors } from '../shared/errors.js';
import { DepositAddressService } from './deposit-address.service.js';
import { depositOutcome } from './deposit.decide.js';

/** What crediting a suspended deposit produced. */
export interface SuspenseCredit {
  accountId: string;
  credited: string;
  priceVersion: number;
}

/** Where a suspended deposit waits, as the operator names it. */
export interface SuspendedDepositRef {
  depositKey: string;
  address?: string | undefined;
  accountId?: string | undefined;
}

/**
 * Credits TAO booked on `tao:suspense` as soon as that is possible — on a timer, and at once
 * after this replica sets a price: deposits that waited on their account for a TAO price, and
 * deposits to an address nobody had claimed when they arrived but an account claims now. The
 * operator credits the rest (an address nobody will claim) by naming the account. Every step is
 * idempotent (the address releases a deposit once; the account credits a deposit key once), so
 * replicas sweeping at the same time, or a crash between the steps, credit nothing twice.
 */
@Injectable()
export class SuspenseService implements OnApplicationBootstrap {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | undefined;

  constructor(
    private readonly accounts: AccountService,
    private readonly addresses: DepositAddressService,
    private readonly prices: PriceBookService,
    private readonly dataSource: DataSource,
    private readonly config: BillingConfig,
    private readonly shutdown: ShutdownRegistry,
    @InjectLogger() private readonly logger: PlatformLogger,
  ) {}

  onApplicationBootstrap(): void {
    const sweep = (): void => {
      this.sweepOnce().catch((err: unknown) => this.logger.warn({ err }, 'suspense sweep failed'));
    };
    this.timer = setInterval(sweep, this.config.SUSPENSE_SWEEP_INTERVAL_MS);
    this.timer.unref();
    this.prices.onChange(sweep);
    this.shutdown.onDrain('consumers', 'suspense-sweeper', async () => {
      clearInterval(this.timer);
      await this.sweeping?.catch(() => undefined);
    });
  }

  /** One pass over the waiting deposits; returns how many it credited. */
  sweepOnce(): Promise<number> {
    this.sweeping ??= this.sweep().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  /**
   * Credits one suspended deposit at the current TAO price. `by: 'claimant-only'` (the sweeper)
   * credits an address's deposit only to the account that claimed the address.
   */
  async credit(
    ref: SuspendedDepositRef,
    by: 'claimant-only' | 'operator',
    actor: string,
  ): Promise<SuspenseCredit> {
    const taoPrice = await this.prices.taoPrice();
    if (!taoPrice) throw billingErrors.noTaoPrice();
    const address = ref.address === undefined ? undefined : await this.addresses.fresh(ref.address);
    const parked = address?.suspended.get(ref.depositKey);
    if (address && ref.address !== undefined && parked) {
      const accountId = ref.accountId ?? parked.releasedTo ?? address.claimedBy;
      if (accountId === undefined) throw billingErrors.accountIdRequired(ref.address);
      await this.accounts.get(accountId);
      await this.addresses.release(ref.address, ref.depositKey, accountId, by, actor);
      const { state } = await this.accounts.execute(
        {
          kind: 'creditDeposit',
          accountId,
          deposit: parked.deposit,
          minimumRao: this.accounts.minimumDepositRao,
          taoPrice,
          source: 'address-suspense',
        },
        actor,
      );
      return {
        accountId,
        ...(depositOutcome(state, ref.depositKey) ?? { credited: '0', priceVersion: taoPrice.priceVersion }),
      };
    }
    // Waiting on its account for a price.
    const accountId = ref.accountId ?? address?.claimedBy;
    if (accountId === undefined)
      throw billingErrors.suspendedDepositNotFound(ref.address ?? '', ref.depositKey);
    if (address?.claimedBy !== undefined && address.claimedBy !== accountId)
      throw billingErrors.depositAddressTaken(ref.address ?? '', accountId);
    const account = await this.accounts.get(accountId);
    const pending = account.pendingDeposits.get(ref.depositKey);
    if (!pending) {
      const done = depositOutcome(account, ref.depositKey);
      if (done) return { accountId, ...done };
      throw billingErrors.suspendedDepositNotFound(ref.address ?? account.depositAddress, ref.depositKey);
    }
    const { state } = await this.accounts.execute(
      {
        kind: 'creditDeposit',
        accountId,
        deposit: pending,
        minimumRao: this.accounts.minimumDepositRao,
        taoPrice,
        source: 'inflow',
      },
      actor,
    );
    return {
      accountId,
      ...(depositOutcome(state, ref.depositKey) ?? { credited: '0', priceVersion: taoPrice.priceVersion }),
    };
  }

  private async sweep(): Promise<number> {
    if (!(await this.prices.taoPrice())) return 0;
    const rows = (await this.dataSource.query(
      `SELECT deposit_key, address, account_id, location FROM ${LedgerTables.suspendedDeposits}
        WHERE status IN ('open', 'released') ORDER BY suspended_at LIMIT 500`,
    )) as {
      deposit_key: string;
      address: string;
      account_id: string | null;
      location: 'account' | 'address';
    }[];
    let credited = 0;
    for (const row of rows) {
      try {
        const ref =
          row.location === 'address'
            ? { depositKey: row.deposit_key, address: row.address, accountId: row.account_id ?? undefined }
            : { depositKey: row.deposit_key, accountId: row.account_id ?? undefined };
        // Nobody claimed the address yet: the operator decides (or a claim arrives later).
        if (row.location === 'address' && row.account_id === null) {
          const address = await this.addresses.fresh(row.address);
          if (address.claimedBy === undefined) continue;
        }
        await this.credit(ref, 'claimant-only', 'service:billing');
        credited += 1;
      } catch (err) {
        this.logger.warn({ err, depositKey: row.deposit_key }, 'suspended deposit not credited; will retry');
      }
    }
    if (credited > 0) this.logger.info({ credited }, 'suspended deposits credited');
    return credited;
  }
}
