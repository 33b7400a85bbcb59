import 'reflect-metadata';
import { bootstrapService } from '@tessera/platform/bootstrap';
import { ChainIndexerConfig } from './config.js';

await bootstrapService({
  config: ChainIndexerConfig,
  module: () => import('./app.module.js').then((m) => m.AppModule),
});
