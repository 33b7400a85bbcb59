import { hostname } from 'node:os';
import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import type { KeyringPair } from '@polkadot/keyring/types';
import { type Clock } from '@tessera/contracts';
import { EventStore } from '@tessera/eventstore';
import { HealthRegistry, InjectLogger, ShutdownRegistry, type PlatformLogger } from '@tessera/platform';
import { Lease, ProjectionHost, RpcClient } from '@tessera/platform/messaging';
import { DataSource } from 'typeorm';
import { SchedulerConfig, type SchedulerSecrets } from '../config.js';
import { schedulerTables, type SchedulerTables } from '../database/tables.js';
import { DeploymentCatalog } from '../deployments/deployment-catalog.service.js';
import { SCHEDULER_CLOCK, SCHEDULER_SECRETS, VALIDATOR_KEY } from '../shared/tokens.js';
import { WakeableSleep } from '../shared/wakeable-sleep.js';
import { FleetController } from './fleet-controller.js';

/** The lease that makes one scheduler replica the one placing instances. */
export const PLACEMENT_LEASE = 'scheduler-placement';
/** How often a standby replica looks whether the lease came free. */
const STANDBY_POLL_MS = 500;
/** A pass comes back this soon while an instance is starting, so readiness is seen quickly. */
const STARTING_PASS_MS = 200;

/**
 * The placement loop, a singleton across scheduler replicas: every replica competes for the
 * `scheduler-placement` lease; the holder builds a {@link FleetController} from the caught-up
 * instance projection and runs its passes until it loses the lease or the service stops. Events
 * are appended with expected positions, so a holder that lost the lease without noticing yet
 * cannot overwrite what the new holder decided.
 */
@Injectable()
export class PlacementLoop implements OnApplicationBootstrap {
  private readonly tables: SchedulerTables;
  private readonly sleeper = new WakeableSleep();
  private lease: Lease | undefined;
  private controller: FleetController | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private lastError: string | undefined;

  constructor(
    private readonly config: SchedulerConfig,
    private readonly store: EventStore,
    private readonly dataSource: DataSource,
    private readonly catalog: DeploymentCatalog,
    private readonly rpc: RpcClient,
    private readonly projections: ProjectionHost,
    @Inject(VALIDATOR_KEY) private readonly validator: KeyringPair,
    @Inject(SCHEDULER_SECRETS) private readonly secrets: SchedulerSecrets,
    @Inject(SCHEDULER_CLOCK) private readonly clock: Clock,
    health: HealthRegistry,
    shutdown: ShutdownRegistry,
    @InjectLogger() private readonly logger: PlatformLogger,
  ) {
    this.tables = schedulerTables(config.DATABASE_SCHEMA);
    health.register({
      name: 'placement',
      check: () =>
        Promise.resolve({
          up: true,
          detail: `${this.controller ? 'placing (lease held)' : 'standby'}${this.lastError ? `; last error: ${this.lastError}` : ''}`,
        }),
    });
    shutdown.onDrain('consumers', PLACEMENT_LEASE, () => this.stop());
  }

  /** Whether this replica holds the lease and places. */
  get isActive(): boolean {
    return this.controller !== undefined;
  }

  /** Asks for a pass now. */
  wake(): void {
    this.sleeper.wake();
  }

  async onApplicationBootstrap(): Promise<void> {
    this.lease = await Lease.open(this.store.connection, {
      name: PLACEMENT_LEASE,
      holder: `${this.config.SERVICE_NAME}@${this.config.INSTANCE_ID ?? `${hostname()}:${process.pid}`}`,
      ttlMs: this.config.PLACEMENT_LEASE_TTL_MS,
      namespace: this.store.namespace.prefix,
    });
    await this.lease.start();
    this.running = true;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (this.running) {
      let delay = this.config.RECONCILE_INTERVAL_MS;
      try {
        if (this.lease?.isHeld) {
          this.controller ??= await this.activate();
          await this.controller.pass();
          if (this.controller.hasStartingInstances) delay = Math.min(delay, STARTING_PASS_MS);
        } else {
          await this.deactivate();
          delay = STANDBY_POLL_MS;
        }
        this.lastError = undefined;
      } catch (err) {
        this.lastError = err instanceof Error ? err.message : String(err);
        this.logger.warn({ err }, 'placement pass failed; trying again');
      }
      if (this.running) await this.sleeper.sleep(delay);
    }
  }

  private async activate(): Promise<FleetController> {
    // Nothing is decided before the projections hold every instance appended so far and the
    // miners the chain announced (the first pass polls them all).
    await Promise.all([
      this.projections.runner('scheduler-instances').waitUntilCaughtUp(60_000),
      this.projections.runner('scheduler-miners').waitUntilCaughtUp(60_000),
    ]);
    const rows = (await this.dataSource.query(
      `select instance_id from ${this.tables.instances} where ended_at is null`,
    )) as { instance_id: string }[];
    const controller = new FleetController({
      store: this.store,
      dataSource: this.dataSource,
      tables: this.tables,
      catalog: this.catalog,
      rpc: this.rpc,
      config: this.config,
      validator: this.validator,
      instanceTokenSecret: this.secrets.instanceTokenSecret,
      clock: this.clock,
      logger: this.logger.child({ component: 'placement' }),
      wake: () => this.wake(),
    });
    await controller.start(rows.map((row) => row.instance_id));
    return controller;
  }

  private async deactivate(): Promise<void> {
    const controller = this.controller;
    if (!controller) return;
    this.controller = undefined;
    await controller.stop();
    this.logger.info('placement lease lost: standing by');
  }

  private async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
    await this.deactivate();
    await this.lease?.release();
  }
}
