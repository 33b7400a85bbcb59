import { hostname } from 'node:os';
import {
  Controller,
  Inject,
  Injectable,
  Module,
  Optional,
  type DynamicModule,
  type OnApplicationBootstrap,
  type OnModuleInit,
  type Type,
} from '@nestjs/common';
import { type StreamInfo } from '@nats-io/jetstream';
import { type NatsConnection } from '@nats-io/transport-node';
import {
  ErrorCode,
  TesseraError,
  deadLetterContracts,
  type ContextName,
  type EventRegistry,
  type RpcParsedRequestOf,
  type RpcResponseOf,
  type StreamDeclaration,
} from '@tessera/contracts';
import {
  ConsumerRunner,
  EventStore,
  type ConsumerRole,
  type Projection,
  type Reactor,
  type Upcaster,
} from '@tessera/eventstore';
import { DataSource } from 'typeorm';
import { MessagingConfig } from '../config/define-config.js';
import { HealthRegistry, stalledConsumerIndicator } from '../health/health-registry.js';
import { ShutdownRegistry } from '../lifecycle/shutdown-registry.js';
import { InjectLogger, type PlatformLogger } from '../logging/index.js';
import { NATS_CONNECTION } from '../nats/nats.module.js';
import { RpcHandler } from '../rpc/rpc-handler.decorator.js';

/** Options for {@link EventStoreModule.forRoot}. */
export interface EventStoreModuleOptions {
  /** Every event contract the service reads or writes. */
  registry: EventRegistry;
  upcasters?: readonly Upcaster[];
  /**
   * The streams this service appends to: created (or reconciled) at start-up, and probed by
   * readiness, which turns false while JetStream cannot take writes for them. Streams it only
   * reads are created by their owners; its consumers wait for them.
   */
  writes?: readonly StreamDeclaration[];
  /** Create/reconcile the `writes` streams at start-up. Default true. */
  ensureStreams?: boolean;
  /**
   * The context whose operator RPCs this service answers (`rpc.<context>.listDeadLetters`,
   * `rpc.<context>.replayDeadLetters`); omit for a service without consumers.
   */
  operations?: ContextName;
}

const EVENT_STORE_OPTIONS = Symbol.for('tessera.platform.eventStoreOptions');

/**
 * Runs the service's consumers — projections and reactors — one {@link ConsumerRunner} each:
 * every replica starts them, the holder of each consumer's lease is the active one. Each gets a
 * readiness indicator (down while stalled), starts when the app has started, and stops in the
 * `consumers` shutdown phase — after RPC drained, before NATS and the database close.
 */
@Injectable()
export class ProjectionHost implements OnApplicationBootstrap {
  private readonly runners = new Map<string, ConsumerRunner>();
  private started = false;

  constructor(
    private readonly store: EventStore,
    private readonly config: MessagingConfig,
    private readonly health: HealthRegistry,
    private readonly shutdown: ShutdownRegistry,
    @InjectLogger() private readonly logger: PlatformLogger,
    @Optional() private readonly dataSource?: DataSource,
  ) {
    this.shutdown.onDrain('consumers', 'consumers', async () => {
      await Promise.all([...this.runners.values()].map((runner) => runner.stop()));
    });
  }

  /** Adds a read model; call from a provider's `onModuleInit`. */
  addProjection(projection: Projection): ConsumerRunner {
    return this.add({ kind: 'projection', projection });
  }

  /** Adds a consumer that issues commands; call from a provider's `onModuleInit`. */
  addReactor(reactor: Reactor): ConsumerRunner {
    return this.add({ kind: 'reactor', reactor });
  }

  /** The runner of a consumer, by name; NOT_FOUND when the service has none of that name. */
  runner(name: string): ConsumerRunner {
    const runner = this.runners.get(name);
    if (!runner) {
      throw new TesseraError(ErrorCode.NotFound, `no consumer named ${name}`, {
        details: { consumer: name },
      });
    }
    return runner;
  }

  /** Every runner, in the order they were added. */
  all(): ConsumerRunner[] {
    return [...this.runners.values()];
  }

  async onApplicationBootstrap(): Promise<void> {
    this.started = true;
    await Promise.all(this.all().map((runner) => runner.start()));
  }

  private add(role: ConsumerRole): ConsumerRunner {
    const name = role.kind === 'projection' ? role.projection.name : role.reactor.name;
    if (!this.dataSource) throw new Error(`consumer ${name} needs DatabaseModule`);
    if (this.runners.has(name)) throw new Error(`consumer ${name} is added twice`);
    const runner = new ConsumerRunner({
      store: this.store,
      dataSource: this.dataSource,
      role,
      logger: this.logger,
      batchSize: this.config.CONSUMER_BATCH_SIZE,
      lingerMs: this.config.CONSUMER_LINGER_MS,
      lease: {
        holder: `${this.config.SERVICE_NAME}@${this.config.INSTANCE_ID ?? `${hostname()}:${process.pid}`}`,
        ttlMs: this.config.CONSUMER_LEASE_TTL_MS,
      },
    });
    this.runners.set(name, runner);
    this.health.register(stalledConsumerIndicator(runner));
    if (this.started) void runner.start();
    return runner;
  }
}

/** Creates the service's streams at start-up and registers the JetStream readiness probe. */
@Injectable()
class EventStoreLifecycle implements OnModuleInit {
  constructor(
    private readonly store: EventStore,
    private readonly health: HealthRegistry,
    @Inject(EVENT_STORE_OPTIONS) private readonly options: EventStoreModuleOptions,
  ) {}

  async onModuleInit(): Promise<void> {
    const writes = this.options.writes ?? [];
    if (this.options.ensureStreams !== false && writes.length > 0) await this.store.ensureStreams(writes);
    this.health.register({
      name: 'jetstream',
      // Stream info is answered by each stream's leader: no answer means no writes either.
      check: async () => {
        const jsm = await this.store.manager();
        if (writes.length === 0) {
          await jsm.getAccountInfo();
          return { up: true };
        }
        await Promise.all(
          writes.map(async (stream) => {
            const info = await jsm.streams.info(this.store.namespace.streamName(stream));
            assertWriteQuorum(stream.name, info);
          }),
        );
        return { up: true, detail: `writable: ${writes.map((stream) => stream.name).join(', ')}` };
      },
    });
  }
}

/** A replica not heard from for this long counts as gone (the leader reports `active` in ns). */
const REPLICA_SILENT_NS = 5_000_000_000;

/**
 * A leader that lost its peers still answers stream info for a while, but can no longer commit a
 * write: a replicated stream is writable only while the leader and enough replicas for a
 * majority are present.
 */
function assertWriteQuorum(stream: string, info: StreamInfo): void {
  const replicas = info.config.num_replicas;
  if (replicas <= 1) return;
  const cluster = info.cluster;
  const present = (cluster?.replicas ?? []).filter(
    (peer) => !peer.offline && peer.active < REPLICA_SILENT_NS,
  ).length;
  if (!cluster?.leader || (present + 1) * 2 <= replicas) {
    throw new Error(`${stream}: no write quorum (${present + 1} of ${replicas} replicas present)`);
  }
}

/** The operator's dead-letter RPCs for one context, served from the {@link ProjectionHost}. */
function deadLetterHandlers(context: ContextName): Type {
  const contracts = deadLetterContracts(context);

  // A controller: Nest serves message handlers (what @RpcHandler declares) from controllers only.
  @Controller()
  class DeadLetterHandlers {
    constructor(private readonly host: ProjectionHost) {}

    @RpcHandler(contracts.list)
    async list(
      request: RpcParsedRequestOf<typeof contracts.list>,
    ): Promise<RpcResponseOf<typeof contracts.list>> {
      const runners = request.consumer === undefined ? this.host.all() : [this.host.runner(request.consumer)];
      const lists = await Promise.all(runners.map((runner) => runner.deadLetters()));
      return {
        deadLetters: lists.flat().map((letter) => ({ ...letter, parkedAt: letter.parkedAt.toISOString() })),
      };
    }

    @RpcHandler(contracts.replay)
    async replay(
      request: RpcParsedRequestOf<typeof contracts.replay>,
    ): Promise<RpcResponseOf<typeof contracts.replay>> {
      return this.host.runner(request.consumer).replayDeadLetters(request.ids);
    }
  }
  return DeadLetterHandlers;
}

/**
 * Provides the {@link EventStore} (namespaced by `NATS_SUBJECT_PREFIX`, streams replicated
 * `STREAM_REPLICAS` times) and {@link ProjectionHost}. Needs `NatsModule`; consumers also need
 * `DatabaseModule` with `eventStoreMigrations`.
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
          streams: { replicas: config.STREAM_REPLICAS },
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
      controllers: options.operations ? [deadLetterHandlers(options.operations)] : [],
      exports: [EventStore, ProjectionHost],
    };
  }
}
