import { Module } from '@nestjs/common';
import { SchedulerModule } from './app.module.js';

/** The module `main.ts` boots (reads `process.env` when loaded; tests use `SchedulerModule.forRoot`). */
@Module({ imports: [SchedulerModule.forRoot()] })
export class AppModule {}
