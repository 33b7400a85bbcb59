import { Injectable } from '@nestjs/common';
import { DEPLOYMENT_CATALOG_STREAM_ID, type DeploymentView, type Event } from '@tessera/contracts';
import { AggregateCache, EventStore, SnapshotStore } from '@tessera/eventstore';
import { InjectLogger, type PlatformLogger } from '@tessera/platform';
import { SchedulerConfig } from '../config.js';
import {
  catalogSnapshotCodec,
  deploymentCatalogDecider,
  type CatalogCommand,
  type CatalogState,
  type DeploymentRecord,
} from './deployment-catalog.decider.js';

/**
 * Every deployment command goes through here, on the one catalog aggregate (snapshotted every
 * 100 events, so a replica's first read stays short). Replicas race only through the append's
 * expected position: a conflict reloads and decides again.
 */
@Injectable()
export class DeploymentCatalog {
  private readonly cache: AggregateCache<CatalogCommand, CatalogState>;

  constructor(
    private readonly store: EventStore,
    config: SchedulerConfig,
    @InjectLogger() logger: PlatformLogger,
  ) {
    this.cache = new AggregateCache(store, deploymentCatalogDecider, {
      logger,
      snapshots: {
        store: new SnapshotStore(store.connection, store.namespace, { replicas: config.STREAM_REPLICAS }),
        every: 100,
        ...catalogSnapshotCodec,
      },
    });
  }

  /** Runs one command; `actor` is recorded on its events. */
  execute(
    command: CatalogCommand,
    actor: string,
  ): Promise<{ state: CatalogState; events: readonly Event[] }> {
    return this.cache.execute(DEPLOYMENT_CATALOG_STREAM_ID, command, { actor });
  }

  /**
   * The catalog as of now: the cached state, reloaded when the stream moved since (another
   * replica wrote). Read it synchronously after the await: later commands evolve the same object.
   */
  async current(): Promise<CatalogState> {
    const cached = this.cache.cachedPosition(DEPLOYMENT_CATALOG_STREAM_ID);
    if (cached) {
      const head = await this.store.currentPosition(DEPLOYMENT_CATALOG_STREAM_ID);
      if (head.sequence !== cached.sequence) this.cache.invalidate(DEPLOYMENT_CATALOG_STREAM_ID);
    }
    return this.cache.read(DEPLOYMENT_CATALOG_STREAM_ID);
  }
}

/** A deployment record as the RPCs show it. */
export function deploymentView(record: DeploymentRecord): DeploymentView {
  return {
    deploymentId: record.deploymentId,
    ...record.spec,
    generation: record.generation,
    targetReplicas: record.targetReplicas,
    status: record.status,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}
