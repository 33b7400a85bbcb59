import { Inject, Injectable, Module, type DynamicModule, type OnModuleInit } from '@nestjs/common';
import {
  connect,
  nkeyAuthenticator,
  type ConnectionOptions,
  type NatsConnection,
} from '@nats-io/transport-node';
import { inboxPrefix, ValidationError } from '@tessera/contracts';
import { natsServerList, MessagingConfig, type MessagingEnv } from '../config/define-config.js';
import { HealthRegistry } from '../health/health-registry.js';
import { ShutdownRegistry } from '../lifecycle/shutdown-registry.js';
import {
  InjectLogger,
  PLATFORM_LOGGER,
  redactUrlCredentials,
  type PlatformLogger,
} from '../logging/index.js';

/** Injection token of the service's one {@link NatsConnection}. */
export const NATS_CONNECTION = Symbol.for('tessera.platform.natsConnection');

/** Parameter decorator injecting the NATS connection. */
export const InjectNats = (): ParameterDecorator & PropertyDecorator => Inject(NATS_CONNECTION);

/** What a connection's options are made from: the platform config, or a CLI's own variables. */
export type NatsConnectionSettings = Pick<MessagingEnv, 'NATS_URL' | 'SERVICE_NAME' | 'NODE_ENV'> &
  Partial<Pick<MessagingEnv, 'NATS_NKEY_SEED'>>;

/**
 * The options every Tessera connection uses (services, and the CLI as `operator`): all servers of
 * `NATS_URL`, the identity's nkey when `NATS_NKEY_SEED` is set, and the identity's own inbox prefix
 * (`_INBOX_<service>`), the only place the server lets it subscribe for replies. In production a
 * connection without credentials is refused before it is attempted.
 */
export function natsConnectionOptions(settings: NatsConnectionSettings): ConnectionOptions {
  const seed = settings.NATS_NKEY_SEED;
  if (seed === undefined && settings.NODE_ENV === 'production') {
    throw new ValidationError('environment', [
      {
        path: 'NATS_NKEY_SEED',
        message: `required when NODE_ENV=production: the nkey seed of the "${settings.SERVICE_NAME}" identity (NATS permissions table)`,
      },
    ]);
  }
  return {
    servers: natsServerList(settings.NATS_URL),
    name: settings.SERVICE_NAME,
    inboxPrefix: inboxPrefix(settings.SERVICE_NAME),
    ...(seed === undefined ? {} : { authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)) }),
  };
}

/**
 * Opens the connection: retried forever while the server is unreachable (a NATS restart must not
 * kill the service; readiness reports it instead), but a server that refuses the credentials fails
 * start-up at once. Named after the service so `nats server report connections` shows who is who.
 */
export async function connectNats(config: MessagingConfig, logger: PlatformLogger): Promise<NatsConnection> {
  const options = natsConnectionOptions(config);
  const connection = await connect({
    ...options,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1_000,
    waitOnFirstConnect: true,
    // Capturing a stack for every request costs more than the request itself on the hot path
    // (measured by bench:eventstore); errors still carry their own stacks.
    noAsyncTraces: true,
  });
  logger.info(
    {
      servers: natsServerList(config.NATS_URL).map(redactUrlCredentials),
      connectedTo: connection.getServer(),
      authenticated: options.authenticator !== undefined,
      inboxPrefix: options.inboxPrefix,
    },
    'nats connected',
  );
  void logStatus(connection, logger);
  return connection;
}

async function logStatus(connection: NatsConnection, logger: PlatformLogger): Promise<void> {
  for await (const status of connection.status()) {
    switch (status.type) {
      case 'disconnect':
        logger.warn({ server: status.server }, 'nats disconnected; reconnecting');
        break;
      case 'reconnect':
        logger.info({ server: status.server }, 'nats reconnected');
        break;
      case 'error':
        logger.error({ err: status.error }, 'nats error');
        break;
      case 'slowConsumer':
        logger.warn({ subject: status.sub.getSubject(), pending: status.pending }, 'nats slow consumer');
        break;
      default:
        break;
    }
  }
}

/** Registers readiness and shutdown for the connection; kept apart from the factory so both stay small. */
@Injectable()
class NatsLifecycle implements OnModuleInit {
  constructor(
    @Inject(NATS_CONNECTION) private readonly connection: NatsConnection,
    private readonly health: HealthRegistry,
    private readonly shutdown: ShutdownRegistry,
    @InjectLogger() private readonly logger: PlatformLogger,
  ) {}

  onModuleInit(): void {
    this.health.register({
      name: 'nats',
      check: () => {
        const connection = this.connection;
        if (connection.isClosed()) return Promise.resolve({ up: false, detail: 'closed' });
        if (connection.isDraining()) return Promise.resolve({ up: false, detail: 'draining' });
        // The client flags nothing between a disconnect and a reconnect; a flush round-trip does.
        return connection.flush().then(
          () => ({ up: true, detail: connection.getServer() }),
          (err: unknown) => ({ up: false, detail: err instanceof Error ? err.message : String(err) }),
        );
      },
    });
    this.shutdown.onDrain('connections', 'nats', async (deadline) => {
      if (this.connection.isClosed()) return;
      const closeNow = (): void => void this.connection.close();
      // Past the grace period a drain that still waits (e.g. on a dead server) becomes a close.
      deadline.addEventListener('abort', closeNow, { once: true });
      try {
        if (deadline.aborted) await this.connection.close();
        else await this.connection.drain();
      } finally {
        deadline.removeEventListener('abort', closeNow);
      }
      this.logger.info('nats drained');
    });
  }
}

/** Provides the {@link NatsConnection} ({@link NATS_CONNECTION}) to every module; drained on shutdown. */
@Module({})
export class NatsModule {
  static forRoot(): DynamicModule {
    const connectionProvider = {
      provide: NATS_CONNECTION,
      inject: [MessagingConfig, PLATFORM_LOGGER],
      useFactory: connectNats,
    };
    return {
      global: true,
      module: NatsModule,
      providers: [connectionProvider, NatsLifecycle],
      exports: [NATS_CONNECTION],
    };
  }
}
