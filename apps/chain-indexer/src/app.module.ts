import { Module } from '@nestjs/common';
import { EventRegistry, Streams, eventContracts } from '@tessera/contracts';
import { eventStoreMigrations } from '@tessera/eventstore';
import { PlatformModule } from '@tessera/platform';
import { MessagingModule } from '@tessera/platform/messaging';
import { ChainIndexerConfig } from './config.js';
import {
  ChainIndexerConsumerNames1796083200001,
  ChainIndexerSchema1767225600000,
} from './database/schema.migration.js';
import { IndexerService } from './indexer.service.js';
import { MetagraphRpc } from './metagraph/metagraph.rpc.js';

@Module({
  imports: [
    PlatformModule.forRoot({
      config: ChainIndexerConfig,
      database: {
        entities: [],
        migrations: [
          ChainIndexerSchema1767225600000,
          ...eventStoreMigrations,
          ChainIndexerConsumerNames1796083200001,
        ],
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
