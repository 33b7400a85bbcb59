import { bootstrapService } from '@tessera/platform/bootstrap';
import { SchedulerConfig } from './config.js';

await bootstrapService({
  config: SchedulerConfig,
  module: () => import('./root.module.js').then((m) => m.AppModule),
});
