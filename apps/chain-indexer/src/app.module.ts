import { Module } from '@nestjs/common';
import { EventRegistry, eventContracts } from '@tessera/contracts';
import { eventStoreEntities } from '@tessera/eventstore';
import { PlatformModule } from '@tessera/platform';
import { MessagingModule } from '@tessera/platform/messaging';
import { ChainIndexerConfig } from './config.js';
import { ChainIndexerSchema1767225600000 } from './database/schema.migration.js';
import { IndexerService } from './indexer.service.js';
import { MetagraphRpc } from './metagraph/metagraph.rpc.js';

@Module({
  imports: [
    PlatformModule.forRoot({
      config: ChainIndexerConfig,
      database: { entities: eventStoreEntities, migrations: [ChainIndexerSchema1767225600000] },
    }),
    MessagingModule.forRoot({ registry: new EventRegistry(eventContracts) }),
  ],
  providers: [IndexerService],
  controllers: [MetagraphRpc],
})
export class AppModule {}
