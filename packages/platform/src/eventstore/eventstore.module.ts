import {
  Inject,
  Injectable,
  Module,
  Optional,
  type DynamicModule,
  type OnApplicationBootstrap,
  type OnModuleInit,
} from '@nestjs/common';
import { type NatsConnection } from '@nats-io/transport-node';
import { type EventRegistry } from '@tessera/contracts';
import {
  EventStore,
  ProjectionRunner,
  type Projection,
  type RunnerLogger,
  type Upcaster,
} from '@tessera/eventstore';
import { DataSource } from 'typeorm';
import { MessagingConfig } from '../config/define-config.js';
import { HealthRegistry, stalledConsumerIndicator } from '../health/health-registry.js';
import { ShutdownRegistry } from '../lifecycle/shutdown-registry.js';
import { InjectLogger, type PlatformLogger } from '../logging/index.js';
import { NATS_CONNECTION } from '../nats/nats.module.js';

/** Options for {@link EventStoreModule.forRoot}. */
export interface EventStoreModuleOptions {
  /** Every event contract the service reads or writes. */
  registry: EventRegistry;
  upcasters?: readonly Upcaster[];
  /** Create/reconcile the JetStream streams at start-up. Default true. */
  ensureStreams?: boolean;
}

const EVENT_STORE_OPTIONS = Symbol.for('tessera.platform.eventStoreOptions');

/**
 * Runs the service's projections: each gets a readiness indicator (down while stalled), starts when
 * the app has started, and stops in the `consumers` shutdown phase — after RPC drained, before
 * NATS and the database close.
 */
@Injectable()
export class ProjectionHost implements OnApplicationBootstrap {
  private readonly runners: ProjectionRunner[] = [];
  private started = false;

  constructor(
    private readonly store: EventStore,
    private readonly health: HealthRegistry,
    private readonly shutdown: ShutdownRegistry,
    @InjectLogger() private readonly logger: PlatformLogger,
    @Optional() private readonly dataSource?: DataSource,
  ) {
    this.shutdown.onDrain('consumers', 'projections', async () => {
      await Promise.all(this.runners.map((runner) => runner.stop()));
    });
  }

  /** Adds a projection; call from a provider's `onModuleInit`. */
  add(projection: Projection): ProjectionRunner {
    if (!this.dataSource) throw new Error(`projection ${projection.name} needs DatabaseModule`);
    const runner = new ProjectionRunner({
      store: this.store,
      dataSource: this.dataSource,
      projection,
      logger: runnerLogger(this.logger.child({ projection: projection.name })),
    });
    this.runners.push(runner);
    this.health.register(stalledConsumerIndicator(runner));
    if (this.started) void runner.start();
    return runner;
  }

  async onApplicationBootstrap(): Promise<void> {
    this.started = true;
    await Promise.all(this.runners.map((runner) => runner.start()));
  }
}

/** Creates the streams at start-up when asked. */
@Injectable()
class EventStoreLifecycle implements OnModuleInit {
  constructor(
    private readonly store: EventStore,
    @Inject(EVENT_STORE_OPTIONS) private readonly options: EventStoreModuleOptions,
  ) {}

  async onModuleInit(): Promise<void> {
    if (this.options.ensureStreams !== false) await this.store.ensureStreams();
  }
}

function runnerLogger(logger: PlatformLogger): RunnerLogger {
  return {
    info: (message, context) => logger.info(context ?? {}, message),
    warn: (message, context) => logger.warn(context ?? {}, message),
    error: (message, context) => logger.error(context ?? {}, message),
  };
}

/**
 * Provides the {@link EventStore} (namespaced by `NATS_SUBJECT_PREFIX`) and {@link ProjectionHost}.
 * Needs `NatsModule`; projections also need `DatabaseModule` with `eventStoreEntities`.
 */
@Module({})
export class EventStoreModule {
  static forRoot(options: EventStoreModuleOptions): DynamicModule {
    const store = {
      provide: EventStore,
      inject: [NATS_CONNECTION, MessagingConfig],
      useFactory: (connection: NatsConnection, config: MessagingConfig) =>
        new EventStore({
          connection,
          registry: options.registry,
          namespace: config.NATS_SUBJECT_PREFIX,
          defaultActor: `service:${config.SERVICE_NAME}`,
          ...(options.upcasters ? { upcasters: options.upcasters } : {}),
        }),
    };
    return {
      global: true,
      module: EventStoreModule,
      providers: [
        store,
        { provide: EVENT_STORE_OPTIONS, useValue: options },
        EventStoreLifecycle,
        ProjectionHost,
      ],
      exports: [EventStore, ProjectionHost],
    };
  }
}
