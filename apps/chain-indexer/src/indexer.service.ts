import { hostname } from 'node:os';
import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { EventStore } from '@tessera/eventstore';
import { Lease, ProjectionHost } from '@tessera/platform/messaging';
import { HealthRegistry, InjectLogger, ShutdownRegistry, type PlatformLogger } from '@tessera/platform';
import { DataSource } from 'typeorm';
import { ExtrinsicSender, loadKeypair } from '@tessera/bittensor';
import type { KeyringPair } from '@polkadot/keyring/types';
import { ChainConnection, resolveChainSource } from './chain/chain-connection.js';
import { ChainIndexerConfig } from './config.js';
import { tablesIn } from './database/tables.js';
import { Follower } from './follower/follower.js';
import { WatchedAddresses } from './watched-addresses/watched-addresses.js';
import { WeightProposalInbox } from './weights/weight-proposal-inbox.js';
import { WeightSubmitter } from './weights/weight-submitter.js';
import { WeightWriter } from './weights/weight-writer.js';

/**
 * Wires the indexer: chain connection (in the background, so an unreachable endpoint means
 * "not ready", not a crash loop), follower, watched addresses and, with a validator key, the
 * weight writer. Stops them in the platform's shutdown phases.
 */
@Injectable()
export class IndexerService implements OnApplicationBootstrap {
  private readonly connection: ChainConnection;
  private follower: Follower | undefined;
  private writer: WeightWriter | undefined;
  private startup: Promise<void> | undefined;
  private startupError: string | undefined;

  constructor(
    private readonly config: ChainIndexerConfig,
    private readonly store: EventStore,
    private readonly dataSource: DataSource,
    private readonly projections: ProjectionHost,
    private readonly health: HealthRegistry,
    shutdown: ShutdownRegistry,
    @InjectLogger() private readonly logger: PlatformLogger,
  ) {
    this.connection = new ChainConnection(resolveChainSource(config), logger.child({ component: 'chain' }));
    this.health.register({ name: 'chain', check: () => Promise.resolve(this.connection.status()) });
    this.health.register({
      name: 'follower',
      check: () =>
        Promise.resolve(
          this.startupError !== undefined
            ? { up: false, detail: this.startupError }
            : (this.follower?.health() ?? { up: false, detail: 'waiting for the chain' }),
        ),
    });
    shutdown.onDrain('consumers', 'chain-indexer', async () => {
      await Promise.all([this.writer?.stop(), this.follower?.stop()]);
    });
    shutdown.onDrain('connections', 'chain', () => this.connection.close());
  }

  async onApplicationBootstrap(): Promise<void> {
    const tables = tablesIn(this.config.DATABASE_SCHEMA);
    const watched = new WatchedAddresses(this.dataSource, tables, this.store, this.config.WATCH_ADDRESSES);
    await watched.load();
    watched.attach(this.projections.addProjection(watched.projection()));
    const key = await loadKeypair(
      { seed: this.config.VALIDATOR_SEED, keyFile: this.config.VALIDATOR_KEY_FILE },
      this.config.SS58_FORMAT,
    );
    if (!key) this.logger.info('no VALIDATOR_SEED or VALIDATOR_KEY_FILE: weight writer off');
    this.startup = this.startChain(watched, tables, key).catch((err: unknown) => {
      this.startupError = err instanceof Error ? err.message : String(err);
      this.logger.error({ err }, 'chain indexer could not start');
    });
  }

  private async startChain(
    watched: WatchedAddresses,
    tables: ReturnType<typeof tablesIn>,
    key: KeyringPair | undefined,
  ): Promise<void> {
    const api = await this.connection.api();
    const log = this.logger.child({ component: 'follower' });
    const follower = new Follower(
      { api, store: this.store, dataSource: this.dataSource, tables, watch: watched, log },
      {
        startBlock: this.config.START_BLOCK,
        netuids: this.config.NETUIDS,
        prefetch: this.config.PREFETCH_BLOCKS,
        commitBatch: this.config.COMMIT_BATCH_BLOCKS,
        ss58Format: this.config.SS58_FORMAT,
      },
    );
    const continuity = await follower.checkContinuity();
    if (!continuity.ok) {
      // Loud on purpose: a broken chain of indexed blocks means a skipped block somewhere.
      throw new Error(`indexed blocks are not contiguous: ${JSON.stringify(continuity)}`);
    }
    this.follower = follower;
    await follower.start();
    this.logger.info(
      { cursor: continuity.cursorHeight, netuids: this.config.NETUIDS },
      'following finalized blocks',
    );
    if (key) {
      const log = this.logger.child({ component: 'weights', hotkey: key.address });
      const inbox = new WeightProposalInbox(this.dataSource, tables);
      const submitter = new WeightSubmitter(
        api,
        new ExtrinsicSender(api, key, { logger: log }),
        this.store,
        inbox,
        log,
        { netuids: this.config.NETUIDS, maxAttempts: this.config.WEIGHTS_MAX_ATTEMPTS },
      );
      const writer = new WeightWriter(inbox, submitter, log, {
        lease: await Lease.open(this.store.connection, {
          name: 'chain-writer',
          // Unique per process, so two indexers on one host never both hold it. A container
          // restarted in place (same hostname, pid 1) takes its lease back at once; a process
          // restarted elsewhere waits for the old lease to lapse (one TTL).
          holder: `${this.config.SERVICE_NAME}@${hostname()}:${process.pid}`,
          namespace: this.store.namespace.prefix,
        }),
      });
      this.writer = writer;
      this.projections.addProjection(inbox.projection(() => writer.wake()));
      await writer.start();
    }
  }
}
