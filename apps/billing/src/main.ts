import { bootstrapService } from '@tessera/platform/bootstrap';
import { BillingConfig } from './config.js';

await bootstrapService({
  config: BillingConfig,
  module: () => import('./root.module.js').then((m) => m.AppModule),
});
