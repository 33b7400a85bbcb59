import {
  Injectable,
  Module,
  type DynamicModule,
  type OnApplicationBootstrap,
  type OnModuleInit,
} from '@nestjs/common';
import { DiscoveryModule, DiscoveryService, MetadataScanner } from '@nestjs/core';
import { type NatsConnection } from '@nats-io/transport-node';
import { MessagingConfig } from '../config/define-config.js';
import { ShutdownRegistry } from '../lifecycle/shutdown-registry.js';
import { TransportRegistry } from '../lifecycle/transport-registry.js';
import { InjectLogger, PLATFORM_LOGGER, type PlatformLogger } from '../logging/index.js';
import { NATS_CONNECTION } from '../nats/nats.module.js';
import { RpcClient } from './rpc-client.js';
import { RPC_CONTRACT_METADATA } from './rpc-handler.decorator.js';
import { RpcServer } from './rpc-server.js';

/**
 * Drains the server in the `rpc` shutdown phase, and refuses to start when an `@RpcHandler`
 * method sits on a plain provider: Nest serves message handlers of controllers only, so such a
 * method would silently never answer.
 */
@Injectable()
class RpcLifecycle implements OnModuleInit, OnApplicationBootstrap {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly server: RpcServer,
    private readonly shutdown: ShutdownRegistry,
    @InjectLogger() private readonly logger: PlatformLogger,
  ) {}

  onModuleInit(): void {
    this.shutdown.onDrain('rpc', 'rpc-server', async () => {
      const inFlight = this.server.inFlightCount;
      await this.server.drain();
      this.logger.info({ answeredWhileDraining: inFlight }, 'rpc server drained');
    });
  }

  onApplicationBootstrap(): void {
    const scanner = new MetadataScanner();
    for (const wrapper of this.discovery.getProviders()) {
      const instance: unknown = wrapper.instance;
      if (typeof instance !== 'object' || instance === null) continue;
      const prototype = Object.getPrototypeOf(instance) as object;
      for (const name of scanner.getAllMethodNames(prototype)) {
        const method: unknown = Reflect.get(prototype, name);
        if (typeof method === 'function' && Reflect.hasMetadata(RPC_CONTRACT_METADATA, method)) {
          const provider = String(wrapper.name);
          throw new Error(
            `${provider}.${name} is an @RpcHandler on a provider: list ${provider} in its module's controllers`,
          );
        }
      }
    }
  }
}

/**
 * Typed RPC over the service's NATS connection: provides {@link RpcClient} and the
 * {@link RpcServer}, a Nest microservice transport that `createApp` connects and starts. Handlers
 * are `@RpcHandler(contract)` methods on controllers. Part of `MessagingModule`.
 */
@Module({})
export class RpcModule {
  static forRoot(): DynamicModule {
    const client = {
      provide: RpcClient,
      inject: [NATS_CONNECTION, MessagingConfig],
      useFactory: (connection: NatsConnection, config: MessagingConfig) =>
        new RpcClient(connection, { subjectPrefix: config.NATS_SUBJECT_PREFIX }),
    };
    const server = {
      provide: RpcServer,
      inject: [NATS_CONNECTION, MessagingConfig, PLATFORM_LOGGER, TransportRegistry],
      useFactory: (
        connection: NatsConnection,
        config: MessagingConfig,
        logger: PlatformLogger,
        transports: TransportRegistry,
      ) => {
        const rpcServer = new RpcServer(connection, {
          queueGroup: config.SERVICE_NAME,
          subjectPrefix: config.NATS_SUBJECT_PREFIX,
          logger: logger.child({ component: 'rpc' }),
        });
        transports.register(rpcServer);
        return rpcServer;
      },
    };
    return {
      global: true,
      module: RpcModule,
      imports: [DiscoveryModule],
      providers: [client, server, RpcLifecycle],
      exports: [RpcClient, RpcServer],
    };
  }
}
