import { Module } from '@nestjs/common';
import { EventRegistry, Streams, eventContracts } from '@tessera/contracts';
import { PlatformModule } from '@tessera/platform';
import { MessagingModule } from '@tessera/platform/messaging';
import { ChainIndexerConfig } from './config.js';
import { chainIndexerMigrations } from './database/schema.migration.js';
import { IndexerService } from './indexer.service.js';
import { MetagraphRpc } from './metagraph/metagraph.rpc.js';

@Module({
  imports: [
    PlatformModule.forRoot({
      config: ChainIndexerConfig,
      database: {
        entities: [],
        migrations: chainIndexerMigrations,
      },
    }),
    MessagingModule.forRoot({
      registry: new EventRegistry(eventContracts),
      writes: [Streams.CHAIN],
      operations: 'chain',
    }),
  ],
  providers: [IndexerService],
  controllers: [MetagraphRpc],
})
export class AppModule {}
