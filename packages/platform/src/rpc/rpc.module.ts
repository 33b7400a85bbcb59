import { Injectable, Module, type DynamicModule, type OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryModule, DiscoveryService } from '@nestjs/core';
import { type NatsConnection } from '@nats-io/transport-node';
import { MessagingConfig } from '../config/define-config.js';
import { ShutdownRegistry } from '../lifecycle/shutdown-registry.js';
import { InjectLogger, PLATFORM_LOGGER, type PlatformLogger } from '../logging/index.js';
import { NATS_CONNECTION } from '../nats/nats.module.js';
import { RpcClient } from './rpc-client.js';
import { rpcHandlerBindings } from './rpc-handler.decorator.js';
import { RpcServer, type RpcHandlerFn } from './rpc-server.js';

/**
 * Finds `@RpcHandler` methods once every provider exists, subscribes them, and drains the server
 * in the `rpc` shutdown phase.
 */
@Injectable()
class RpcLifecycle implements OnApplicationBootstrap {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly server: RpcServer,
    private readonly shutdown: ShutdownRegistry,
    @InjectLogger() private readonly logger: PlatformLogger,
  ) {}

  onApplicationBootstrap(): void {
    for (const wrapper of this.discovery.getProviders()) {
      const instance: unknown = wrapper.instance;
      // Request-scoped providers have no single instance to bind; handlers must be singletons.
      if (!wrapper.isDependencyTreeStatic() || typeof instance !== 'object' || instance === null) continue;
      for (const { contract, methodName } of rpcHandlerBindings(instance)) {
        const method: unknown = Reflect.get(instance, methodName);
        if (typeof method !== 'function') continue;
        this.server.handle(contract, (method as RpcHandlerFn<typeof contract>).bind(instance));
      }
    }
    this.server.start();
    this.shutdown.onDrain('rpc', 'rpc-server', async () => {
      const inFlight = this.server.inFlightCount;
      await this.server.drain();
      this.logger.info({ answeredWhileDraining: inFlight }, 'rpc server drained');
    });
    this.logger.info({ subjects: this.server.subjects() }, 'rpc server started');
  }
}

/**
 * Provides {@link RpcClient} and {@link RpcServer}. Handlers are `@RpcHandler` methods on any
 * provider, or registered with `RpcServer.handle` in an `onModuleInit`.
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
      inject: [NATS_CONNECTION, MessagingConfig, PLATFORM_LOGGER],
      useFactory: (connection: NatsConnection, config: MessagingConfig, logger: PlatformLogger) =>
        new RpcServer(connection, {
          queueGroup: config.SERVICE_NAME,
          subjectPrefix: config.NATS_SUBJECT_PREFIX,
          logger: logger.child({ component: 'rpc' }),
        }),
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
