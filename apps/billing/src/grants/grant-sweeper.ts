import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { accountOfGrant } from '@tessera/contracts';
import { InjectLogger, ShutdownRegistry, type PlatformLogger } from '@tessera/platform';
import { DataSource } from 'typeorm';
import { DirectoryTables } from '../accounts/account-directory.projection.js';
import { AccountService } from '../accounts/account.service.js';
import { BillingConfig } from '../config.js';
import { CLOCK, type Clock } from '../shared/tokens.js';

/**
 * Returns the remainder of grants nobody settled within their TTL. Finds candidates in the
 * grants table; the account aggregate decides (with the injected clock's time) whether each is
 * really still open and expired, so a sweep racing a settle can never return money twice.
 */
@Injectable()
export class GrantSweeper implements OnApplicationBootstrap {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | undefined;

  constructor(
    private readonly accounts: AccountService,
    private readonly dataSource: DataSource,
    private readonly config: BillingConfig,
    private readonly shutdown: ShutdownRegistry,
    @Inject(CLOCK) private readonly clock: Clock,
    @InjectLogger() private readonly logger: PlatformLogger,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.sweepOnce().catch((err: unknown) => this.logger.warn({ err }, 'grant sweep failed'));
    }, this.config.GRANT_SWEEP_INTERVAL_MS);
    this.timer.unref();
    this.shutdown.onDrain('consumers', 'grant-sweeper', async () => {
      clearInterval(this.timer);
      await this.sweeping?.catch(() => undefined);
    });
  }

  /** One pass; returns how many grants it expired. */
  sweepOnce(): Promise<number> {
    this.sweeping ??= this.sweep().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  private async sweep(): Promise<number> {
    const rows = (await this.dataSource.query(
      `SELECT grant_id FROM ${DirectoryTables.grants} WHERE status = 'open' AND expires_at <= $1 ORDER BY expires_at LIMIT 1000`,
      [this.clock.now().toISOString()],
    )) as { grant_id: string }[];
    const results = await Promise.all(
      rows.map((row) =>
        this.accounts.execute(
          {
            kind: 'expireGrant',
            accountId: accountOfGrant(row.grant_id),
            grantId: row.grant_id,
            now: this.clock.now(),
          },
          'service:billing',
        ),
      ),
    );
    return results.reduce((expired, result) => expired + result.events.length, 0);
  }
}
