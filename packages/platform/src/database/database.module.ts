import { Injectable, Module, type DynamicModule, type OnModuleInit } from '@nestjs/common';
import { TypeOrmModule, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import pg from 'pg';
import { DataSource, type EntitySchema, type MixedList } from 'typeorm';
import { PlatformConfig } from '../config/define-config.js';
import { HealthRegistry } from '../health/health-registry.js';
import { ShutdownRegistry } from '../lifecycle/shutdown-registry.js';
import { InjectLogger, type PlatformLogger } from '../logging/index.js';

/** Options for {@link DatabaseModule.forRoot}. */
export interface DatabaseModuleOptions {
  // typeorm's own type for entity lists: classes, schemas or glob strings.
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  entities: MixedList<Function | string | EntitySchema>;
  /** Let TypeORM create/alter tables from the entities. Tests and prototypes only: apps use migrations. */
  synchronize?: boolean;
  /** Migrations to run on start-up (classes or globs). */
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations?: MixedList<Function | string>;
}

/** Creates the service's schema if it does not exist yet: TypeORM assumes it does. */
export async function ensureSchema(databaseUrl: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    // The schema name is validated by platformEnvSchema (a plain SQL identifier), so quoting is enough.
    await client.query(`create schema if not exists "${schema}"`);
  } finally {
    await client.end();
  }
}

/** Readiness (`select 1`) and orderly close for the data source. */
@Injectable()
class DatabaseLifecycle implements OnModuleInit {
  constructor(
    private readonly dataSource: DataSource,
    private readonly health: HealthRegistry,
    private readonly shutdown: ShutdownRegistry,
    @InjectLogger() private readonly logger: PlatformLogger,
  ) {}

  onModuleInit(): void {
    this.health.register({
      name: 'database',
      check: async () => {
        await this.dataSource.query('select 1');
        return { up: true };
      },
    });
    // Closed in the last phase, after consumers stopped writing; Nest's TypeORM module then finds it closed.
    this.shutdown.onDrain('connections', 'database', async () => {
      if (!this.dataSource.isInitialized) return;
      await this.dataSource.destroy();
      this.logger.info('database closed');
    });
  }
}

/**
 * Postgres through TypeORM for `DATABASE_URL`, in the service's own schema `DATABASE_SCHEMA`
 * (created when missing). Inject `DataSource` or use `TypeOrmModule.forFeature` as usual.
 */
@Module({})
export class DatabaseModule {
  static forRoot(options: DatabaseModuleOptions): DynamicModule {
    const typeOrm = TypeOrmModule.forRootAsync({
      inject: [PlatformConfig],
      useFactory: async (config: PlatformConfig): Promise<TypeOrmModuleOptions> => {
        const url = config.DATABASE_URL;
        if (url === undefined) {
          throw new Error('DATABASE_URL: required by DatabaseModule');
        }
        await ensureSchema(url, config.DATABASE_SCHEMA);
        return {
          type: 'postgres',
          url,
          schema: config.DATABASE_SCHEMA,
          // Raw SQL (batched projection writes) then finds the service's tables without qualifying them.
          extra: { options: `-c search_path=${config.DATABASE_SCHEMA}` },
          entities: options.entities,
          synchronize: options.synchronize ?? false,
          migrations: options.migrations ?? [],
          migrationsRun: options.migrations !== undefined,
          applicationName: config.SERVICE_NAME,
          // Fail start-up instead of retrying forever: Kubernetes restarts us with backoff.
          retryAttempts: 3,
          retryDelay: 1_000,
        };
      },
    });
    return {
      global: true,
      module: DatabaseModule,
      imports: [typeOrm],
      providers: [DatabaseLifecycle],
      exports: [typeOrm],
    };
  }
}
