import { Module, type DynamicModule } from '@nestjs/common';
import { configView } from '../config/config.module.js';
import { MessagingConfig } from '../config/define-config.js';
import { EventStoreModule, type EventStoreModuleOptions } from '../eventstore/eventstore.module.js';
import { NatsModule } from '../nats/nats.module.js';
import { RpcModule } from '../rpc/rpc.module.js';

/** Options for {@link MessagingModule.forRoot}: the event store's. */
export type MessagingModuleOptions = EventStoreModuleOptions;

/**
 * Config view for the messaging modules; global so each of them can inject it. Its own module so
 * the provider exists once however many messaging modules an app imports.
 */
@Module({})
class MessagingConfigModule {
  static forRoot(): DynamicModule {
    const view = configView(MessagingConfig);
    return { global: true, module: MessagingConfigModule, providers: [view], exports: [MessagingConfig] };
  }
}

/**
 * The NATS side of a service, next to `PlatformModule`: the connection, typed RPC (client and
 * `@RpcHandler` server) and the event store with its `ProjectionHost`. The app's config must
 * extend `messagingEnvSchema`. Everything drains in the platform's shutdown phases.
 *
 * ```ts
 * imports: [
 *   PlatformModule.forRoot({ config: BillingConfig, database: { ... } }),
 *   MessagingModule.forRoot({ registry: new EventRegistry(eventContracts) }),
 * ]
 * ```
 */
@Module({})
export class MessagingModule {
  static forRoot(options: MessagingModuleOptions): DynamicModule {
    return {
      module: MessagingModule,
      imports: [
        MessagingConfigModule.forRoot(),
        NatsModule.forRoot(),
        RpcModule.forRoot(),
        EventStoreModule.forRoot(options),
      ],
    };
  }
}
