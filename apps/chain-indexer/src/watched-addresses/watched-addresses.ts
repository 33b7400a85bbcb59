import { DepositAddressAssigned, Streams, type Event } from '@tessera/contracts';
import { type ConsumerRunner, type EventStore, type Projection } from '@tessera/eventstore';
import { type DataSource, type EntityManager } from 'typeorm';
import { type Tables } from '../database/tables.js';

/**
 * The addresses whose incoming transfers become `chain.TransferObserved`: deposit addresses
 * billing assigned (a projection of `billing.DepositAddressAssigned`) plus configured ones.
 * Lookups are in memory; the table is the durable copy the set is loaded from.
 */
export class WatchedAddresses {
  private readonly addresses = new Set<string>();
  private runner: ConsumerRunner | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly tables: Tables,
    private readonly store: EventStore,
    private readonly configured: readonly string[],
  ) {}

  isWatched(address: string): boolean {
    return this.addresses.has(address);
  }

  get size(): number {
    return this.addresses.size;
  }

  /** Loads the table and records the configured addresses. */
  async load(): Promise<void> {
    for (const address of this.configured) {
      await this.dataSource.query(
        `insert into ${this.tables.watchedAddresses} (address, source) values ($1, 'config') on conflict (address) do nothing`,
        [address],
      );
    }
    const rows: { address: string }[] = await this.dataSource.query(
      `select address from ${this.tables.watchedAddresses}`,
    );
    for (const row of rows) this.addresses.add(row.address);
  }

  /** The projection feeding the set; the app registers it with the projection host. */
  projection(): Projection {
    return {
      name: 'chain-indexer-watched-addresses',
      stream: Streams.BILLING,
      handles: [DepositAddressAssigned],
      apply: async (events: readonly Event[], manager: EntityManager) => {
        for (const event of events) {
          if (!DepositAddressAssigned.is(event)) continue;
          await manager.query(
            `insert into ${this.tables.watchedAddresses} (address, source, account_id) values ($1, 'billing', $2)
             on conflict (address) do update set account_id = excluded.account_id`,
            [event.data.address, event.data.accountId],
          );
          // Added before commit: at worst a rolled-back batch watches an address early, never late.
          this.addresses.add(event.data.address);
        }
      },
      reset: async (manager: EntityManager) => {
        await manager.query(`delete from ${this.tables.watchedAddresses} where source = 'billing'`);
      },
    };
  }

  attach(runner: ConsumerRunner): void {
    this.runner = runner;
  }

  /**
   * Waits until every address billing assigned so far is watched, so a block indexed next sees a
   * deposit to an address assigned before it. Called before each run of blocks.
   */
  async catchUp(timeoutMs = 10_000): Promise<void> {
    if (!this.runner) return;
    const jsm = await this.store.manager();
    const info = await jsm.streams
      .info(this.store.namespace.streamName(Streams.BILLING))
      .catch(() => undefined);
    const last = info?.state.last_seq ?? 0;
    if (last > 0) await this.runner.waitForSequence(last, timeoutMs);
  }
}
