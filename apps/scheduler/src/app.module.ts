import 'reflect-metadata';
import { Inject, Injectable, Module, type DynamicModule, type OnModuleInit } from '@nestjs/common';
import { EventRegistry, Streams, eventContracts, systemClock, type Clock } from '@tessera/contracts';
import { loadKeypair } from '@tessera/bittensor';
import { eventStoreMigrations } from '@tessera/eventstore';
import {
  InjectLogger,
  PlatformModule,
  type LoggingModuleOptions,
  type PlatformLogger,
  type RawEnv,
} from '@tessera/platform';
import { MessagingModule, ProjectionHost } from '@tessera/platform/messaging';
import { SchedulerConfig, resolveSchedulerSecrets, type SchedulerSecrets } from './config.js';
import { PlacementLoop } from './controller/placement-loop.js';
import { SchedulerSchema1798761600000 } from './database/schema.migration.js';
import { schedulerTables } from './database/tables.js';
import { DeploymentCatalog } from './deployments/deployment-catalog.service.js';
import { DeploymentsHandler } from './deployments/deployments.handler.js';
import { minersProjection } from './fleet/miners.projection.js';
import { instancesProjection } from './instances/instances.projection.js';
import { FleetViewHandler } from './operator/fleet-view.handler.js';
import { SCHEDULER_CLOCK, SCHEDULER_SECRETS, VALIDATOR_KEY } from './shared/tokens.js';

/** Registers the scheduler's projections: the subnet's miners (CHAIN) and its own instances (SCHEDULER). */
@Injectable()
class SchedulerProjections implements OnModuleInit {
  constructor(
    private readonly host: ProjectionHost,
    private readonly config: SchedulerConfig,
  ) {}

  onModuleInit(): void {
    const tables = schedulerTables(this.config.DATABASE_SCHEMA);
    this.host.addProjection(minersProjection(tables, this.config.NETUID));
    this.host.addProjection(instancesProjection(tables));
  }
}

@Injectable()
class SecretsAnnouncer implements OnModuleInit {
  constructor(
    @Inject(SCHEDULER_SECRETS) private readonly secrets: SchedulerSecrets,
    @Inject(VALIDATOR_KEY) private readonly validator: { address: string },
    @InjectLogger() private readonly logger: PlatformLogger,
  ) {}

  onModuleInit(): void {
    this.logger.info(
      { validatorHotkey: this.validator.address },
      'signing miner requests as this validator hotkey',
    );
    if (this.secrets.usingDevDefaults.length > 0) {
      // Names only: secrets are never logged, not even development ones.
      this.logger.warn(
        { variables: this.secrets.usingDevDefaults },
        'using DEVELOPMENT defaults for scheduler secrets; never run like this in production',
      );
    }
  }
}

/** Options for {@link SchedulerModule.forRoot}; everything defaults to production behaviour. */
export interface SchedulerModuleOptions {
  /** Environment to parse instead of `process.env` (tests). */
  env?: RawEnv;
  clock?: Clock;
  logging?: LoggingModuleOptions;
}

/** The scheduler service. */
@Module({})
export class SchedulerModule {
  static forRoot(options: SchedulerModuleOptions = {}): DynamicModule {
    return {
      module: SchedulerModule,
      imports: [
        PlatformModule.forRoot({
          config: SchedulerConfig,
          ...(options.env ? { env: options.env } : {}),
          ...(options.logging ? { logging: options.logging } : {}),
          database: { entities: [], migrations: [...eventStoreMigrations, SchedulerSchema1798761600000] },
        }),
        MessagingModule.forRoot({
          registry: new EventRegistry(eventContracts),
          writes: [Streams.SCHEDULER],
          operations: 'scheduler',
        }),
      ],
      providers: [
        { provide: SCHEDULER_CLOCK, useValue: options.clock ?? systemClock },
        { provide: SCHEDULER_SECRETS, inject: [SchedulerConfig], useFactory: resolveSchedulerSecrets },
        {
          provide: VALIDATOR_KEY,
          inject: [SCHEDULER_SECRETS, SchedulerConfig],
          useFactory: async (secrets: SchedulerSecrets, config: SchedulerConfig) => {
            const key = await loadKeypair(
              { seed: secrets.validatorSeed, keyFile: secrets.validatorKeyFile },
              config.SS58_FORMAT,
            );
            if (!key) throw new Error('VALIDATOR_SEED or VALIDATOR_KEY_FILE: no validator hotkey');
            return key;
          },
        },
        SecretsAnnouncer,
        DeploymentCatalog,
        SchedulerProjections,
        PlacementLoop,
      ],
      // @RpcHandler methods are Nest message handlers, which Nest serves from controllers.
      controllers: [DeploymentsHandler, FleetViewHandler],
    };
  }
}
