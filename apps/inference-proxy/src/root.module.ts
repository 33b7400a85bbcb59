import { Module } from '@nestjs/common';
import { InferenceProxyModule } from './app.module.js';

/** The module `main.ts` boots (reads `process.env` when loaded; tests use `InferenceProxyModule.forRoot`). */
@Module({ imports: [InferenceProxyModule.forRoot()] })
export class AppModule {}
