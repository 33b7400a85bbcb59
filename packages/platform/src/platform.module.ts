import { Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule } from './config/config.module.js';
import { type AnyConfigDefinition, type RawEnv } from './config/define-config.js';
import { DatabaseModule, type DatabaseModuleOptions } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { LifecycleModule } from './lifecycle/shutdown-registry.js';
import { LoggingModule, type LoggingModuleOptions } from './logging/logging.module.js';

/** Options for {@link PlatformModule.forRoot}. */
export interface PlatformModuleOptions {
  /** The app's config class from `defineConfig`. */
  config: AnyConfigDefinition;
  /** Environment to parse instead of `process.env` (tests). */
  env?: RawEnv;
  logging?: LoggingModuleOptions;
  /** Postgres via TypeORM; omit for services without a database. */
  database?: DatabaseModuleOptions;
}

/**
 * What every Tessera process needs, in one import: config, logging, health, graceful shutdown and
 * optionally the database. It loads nothing of NATS, so it also serves processes that run without
 * it (the miner agent); services on NATS add `MessagingModule` from `@tessera/platform/messaging`.
 * Each piece is also importable on its own.
 */
@Module({})
export class PlatformModule {
  static forRoot(options: PlatformModuleOptions): DynamicModule {
    return {
      module: PlatformModule,
      imports: [
        ConfigModule.forRoot(options.config, options.env === undefined ? {} : { env: options.env }),
        LoggingModule.forRoot(options.logging ?? {}),
        HealthModule,
        LifecycleModule,
        ...(options.database ? [DatabaseModule.forRoot(options.database)] : []),
      ],
    };
  }
}
