import { bootstrapService } from '@tessera/platform/bootstrap';
import { MinerConfig } from './config.js';

await bootstrapService({
  config: MinerConfig,
  module: () => import('./app.module.js').then((m) => m.AppModule),
});
