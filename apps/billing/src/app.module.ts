import 'reflect-metadata';
import { Inject, Injectable, Module, type DynamicModule, type OnModuleInit } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { EventRegistry, Streams, eventContracts, systemClock, type Clock } from '@tessera/contracts';
import {
  InjectLogger,
  PlatformModule,
  type LoggingModuleOptions,
  type PlatformLogger,
  type RawEnv,
} from '@tessera/platform';
import { MessagingModule, ProjectionHost } from '@tessera/platform/messaging';
import { accountDirectoryProjection } from './accounts/account-directory.projection.js';
import { AccountOpening } from './accounts/account-opening.service.js';
import { AccountService } from './accounts/account.service.js';
import { AccountsHandler } from './accounts/accounts.handler.js';
import { DepositAddressDeriver } from './accounts/deposit-address.js';
import { ApiKeysHandler } from './api-keys/api-keys.handler.js';
import { BillingConfig, resolveSecrets, type BillingSecrets } from './config.js';
import { billingMigrations } from './database/billing.migrations.js';
import { DepositAddressBackfill } from './deposits/deposit-address-backfill.js';
import { DepositAddressService } from './deposits/deposit-address.service.js';
import { depositCreditingReactor } from './deposits/deposit-crediting.reactor.js';
import { SuspenseHandler } from './deposits/suspense.handler.js';
import { SuspenseService } from './deposits/suspense.service.js';
import { GrantSweeper } from './grants/grant-sweeper.js';
import { GrantsHandler } from './grants/grants.handler.js';
import { billingUpcasters } from './ledger/ledger-upcasters.js';
import { ledgerProjection } from './ledger/ledger.projection.js';
import { PriceBookService } from './prices/price-book.service.js';
import { PricesHandler } from './prices/prices.handler.js';
import { ReconciliationHandler } from './reconciliation/reconciliation.handler.js';
import { ReconciliationService } from './reconciliation/reconciliation.service.js';
import { DatabaseRangeInterceptor } from './shared/database-range.interceptor.js';
import { BILLING_SECRETS, CLOCK, DEPOSIT_DERIVER } from './shared/tokens.js';
import { StatementsHandler } from './statements/statements.handler.js';
import { GpuUsageHandler } from './usage/gpu-usage.handler.js';
import { requestChargingReactor } from './usage/request-charging.reactor.js';
import { usageDailyProjection } from './usage/usage-daily.projection.js';

/** Billing's read models, rebuildable from the BILLING stream. */
export const billingProjections = [accountDirectoryProjection, ledgerProjection, usageDailyProjection];

/** Registers billing's projections and reactors with the host (one active replica each). */
@Injectable()
export class BillingConsumers implements OnModuleInit {
  constructor(
    private readonly host: ProjectionHost,
    private readonly accounts: AccountService,
    private readonly addresses: DepositAddressService,
    private readonly prices: PriceBookService,
  ) {}

  onModuleInit(): void {
    for (const projection of billingProjections) this.host.addProjection(projection);
    this.host.addReactor(depositCreditingReactor(this.addresses, this.accounts, this.prices));
    this.host.addReactor(requestChargingReactor(this.accounts, this.prices));
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
          // Raw SQL over tables the migrations create; no entities, no synchronize.
          database: { entities: [], migrations: billingMigrations },
        }),
        MessagingModule.forRoot({
          registry: new EventRegistry(eventContracts),
          upcasters: billingUpcasters,
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
        { provide: APP_INTERCEPTOR, useClass: DatabaseRangeInterceptor },
        SecretsAnnouncer,
        AccountService,
        DepositAddressService,
        AccountOpening,
        PriceBookService,
        BillingConsumers,
        GrantSweeper,
        SuspenseService,
        DepositAddressBackfill,
        ReconciliationService,
      ],
      // @RpcHandler methods are Nest message handlers, which Nest serves from controllers.
      controllers: [
        AccountsHandler,
        ApiKeysHandler,
        GrantsHandler,
        GpuUsageHandler,
        PricesHandler,
        StatementsHandler,
        SuspenseHandler,
        ReconciliationHandler,
      ],
    };
  }
}
