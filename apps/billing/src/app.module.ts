import 'reflect-metadata';
import { Inject, Injectable, Module, type DynamicModule, type OnModuleInit } from '@nestjs/common';
import { EventRegistry, Streams, eventContracts, systemClock, type Clock } from '@tessera/contracts';
import { eventStoreMigrations, type ConsumerRunner } from '@tessera/eventstore';
import {
  InjectLogger,
  PlatformModule,
  type LoggingModuleOptions,
  type PlatformLogger,
  type RawEnv,
} from '@tessera/platform';
import { MessagingModule, ProjectionHost } from '@tessera/platform/messaging';
import { DataSource } from 'typeorm';
import { AccountRow, ApiKeyRow, GrantRow } from './accounts/account-directory.entity.js';
import { accountDirectoryProjection } from './accounts/account-directory.projection.js';
import { AccountService, BILLING_SECRETS, DEPOSIT_DERIVER } from './accounts/account.service.js';
import { AccountsHandler } from './accounts/accounts.handler.js';
import { DepositAddressDeriver } from './accounts/deposit-address.js';
import { ApiKeysHandler } from './api-keys/api-keys.handler.js';
import { BillingConfig, resolveSecrets, type BillingSecrets } from './config.js';
import { depositProcessor } from './deposits/deposit.processor.js';
import { GrantSweeper } from './grants/grant-sweeper.js';
import { GrantsHandler } from './grants/grants.handler.js';
import { LedgerBalanceRow, LedgerEntryRow } from './ledger/ledger.entity.js';
import { ledgerProjection } from './ledger/ledger.projection.js';
import { PriceBookService } from './prices/price-book.service.js';
import { PricesHandler } from './prices/prices.handler.js';
import { CLOCK } from './shared/tokens.js';
import { StatementsHandler } from './statements/statements.handler.js';
import { requestChargeProcessor } from './usage/request-charge.processor.js';
import { UsageDailyRow } from './usage/usage-daily.entity.js';
import { usageDailyProjection } from './usage/usage-daily.projection.js';

/** Registers billing's projections and event processors with the host; keeps their runners for rebuilds. */
@Injectable()
export class BillingProjections implements OnModuleInit {
  readonly runners = new Map<string, ConsumerRunner>();

  constructor(
    private readonly host: ProjectionHost,
    private readonly accounts: AccountService,
    private readonly prices: PriceBookService,
    private readonly dataSource: DataSource,
    @InjectLogger() private readonly logger: PlatformLogger,
  ) {}

  onModuleInit(): void {
    const log = (message: string, context: Record<string, unknown>) => this.logger.warn(context, message);
    for (const projection of [accountDirectoryProjection, ledgerProjection, usageDailyProjection]) {
      this.runners.set(projection.name, this.host.addProjection(projection));
    }
    for (const reactor of [
      depositProcessor(this.accounts, this.prices, this.dataSource, log),
      requestChargeProcessor(this.accounts, this.prices),
    ]) {
      this.runners.set(reactor.name, this.host.addReactor(reactor));
    }
  }

  runner(name: string): ConsumerRunner {
    const runner = this.runners.get(name);
    if (!runner) throw new Error(`no projection ${name}`);
    return runner;
  }
}

/** Options for {@link BillingModule.forRoot}; everything defaults to production behaviour. */
export interface BillingModuleOptions {
  /** Environment to parse instead of `process.env` (tests). */
  env?: RawEnv;
  clock?: Clock;
  logging?: LoggingModuleOptions;
}

@Injectable()
class SecretsAnnouncer implements OnModuleInit {
  constructor(
    @Inject(BILLING_SECRETS) private readonly secrets: BillingSecrets,
    @InjectLogger() private readonly logger: PlatformLogger,
  ) {}

  onModuleInit(): void {
    if (this.secrets.usingDevDefaults.length > 0) {
      // Names only: the values are public development values, but secrets are never logged.
      this.logger.warn(
        { variables: this.secrets.usingDevDefaults },
        'using DEVELOPMENT defaults for billing secrets; never run like this in production',
      );
    }
  }
}

export const billingEntities = [
  AccountRow,
  ApiKeyRow,
  GrantRow,
  LedgerBalanceRow,
  LedgerEntryRow,
  UsageDailyRow,
];

/** The billing service. */
@Module({})
export class BillingModule {
  static forRoot(options: BillingModuleOptions = {}): DynamicModule {
    return {
      module: BillingModule,
      imports: [
        PlatformModule.forRoot({
          config: BillingConfig,
          ...(options.env ? { env: options.env } : {}),
          ...(options.logging ? { logging: options.logging } : {}),
          // Tables follow the entities; a migration set replaces this before the schema must evolve in place.
          database: { entities: billingEntities, synchronize: true, migrations: eventStoreMigrations },
        }),
        MessagingModule.forRoot({
          registry: new EventRegistry(eventContracts),
          writes: [Streams.BILLING],
          operations: 'billing',
        }),
      ],
      providers: [
        { provide: CLOCK, useValue: options.clock ?? systemClock },
        { provide: BILLING_SECRETS, inject: [BillingConfig], useFactory: resolveSecrets },
        {
          provide: DEPOSIT_DERIVER,
          inject: [BILLING_SECRETS],
          useFactory: (secrets: BillingSecrets) => DepositAddressDeriver.create(secrets.depositSeed),
        },
        SecretsAnnouncer,
        AccountService,
        PriceBookService,
        BillingProjections,
        GrantSweeper,
      ],
      // @RpcHandler methods are Nest message handlers, which Nest serves from controllers.
      controllers: [AccountsHandler, ApiKeysHandler, GrantsHandler, PricesHandler, StatementsHandler],
    };
  }
}
