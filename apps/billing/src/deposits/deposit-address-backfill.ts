import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectLogger, ShutdownRegistry, type PlatformLogger } from '@tessera/platform';
import { ProjectionHost } from '@tessera/platform/messaging';
import { DataSource } from 'typeorm';
import { DirectoryTables, accountDirectoryProjection } from '../accounts/account-directory.projection.js';
import { DepositAddressService } from './deposit-address.service.js';

/** How long one wait for the directory lasts; the backfill waits again until it caught up or billing stops. */
const DIRECTORY_WAIT_MS = 5_000;

/**
 * Accounts opened by the first release have a deposit address but no claim on the address's
 * stream (claims came later). Once the directory has caught up after a start, this claims each
 * such address for its account, so the deposit path knows it; a transfer that arrived before
 * the claim waits on suspense and the sweeper credits it after. Cheap on every later start: the
 * query finds nothing. Claims are idempotent, so replicas running it together are harmless.
 */
@Injectable()
export class DepositAddressBackfill implements OnApplicationBootstrap {
  private running: Promise<number> | undefined;
  private stopping = false;

  constructor(
    private readonly host: ProjectionHost,
    private readonly addresses: DepositAddressService,
    private readonly dataSource: DataSource,
    private readonly shutdown: ShutdownRegistry,
    @InjectLogger() private readonly logger: PlatformLogger,
  ) {}

  onApplicationBootstrap(): void {
    this.shutdown.onDrain('consumers', 'deposit-address-backfill', async () => {
      this.stopping = true;
      await this.running?.catch(() => undefined);
    });
    this.running = this.run();
    this.running.catch((err: unknown) =>
      this.logger.warn({ err }, 'deposit address backfill failed; it runs again at the next start'),
    );
  }

  /** Resolves with how many addresses it claimed (tests wait for it). */
  done(): Promise<number> {
    return this.running ?? Promise.resolve(0);
  }

  private async run(): Promise<number> {
    const directory = this.host.runner(accountDirectoryProjection.name);
    for (;;) {
      if (this.stopping) return 0;
      const caughtUp = await directory.waitUntilCaughtUp(DIRECTORY_WAIT_MS).then(
        () => true,
        () => false,
      );
      if (caughtUp) break;
      // NATS may be down (the wait then fails at once): look again in a moment.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    const rows = (await this.dataSource.query(
      `SELECT a.account_id, a.deposit_address FROM ${DirectoryTables.accounts} a
         LEFT JOIN ${DirectoryTables.depositAddresses} d ON d.address = a.deposit_address
        WHERE d.address IS NULL ORDER BY a.account_id`,
    )) as { account_id: string; deposit_address: string }[];
    for (const row of rows) {
      if (this.stopping) break;
      await this.addresses.claim(row.deposit_address, row.account_id, 'service:billing');
    }
    if (rows.length > 0)
      this.logger.info({ claimed: rows.length }, 'deposit addresses of earlier accounts claimed');
    return rows.length;
  }
}
