import { Module } from '@nestjs/common';
import { BillingModule } from './app.module.js';

/** The module `main.ts` boots (reads `process.env` when loaded; tests use `BillingModule.forRoot`). */
@Module({ imports: [BillingModule.forRoot()] })
export class AppModule {}
