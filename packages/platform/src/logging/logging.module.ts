import { Inject, Module, type DynamicModule, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { type DestinationStream } from 'pino';
import { PlatformConfig } from '../config/define-config.js';
import {
  CORRELATION_ID_HEADER,
  newCorrelationId,
  runWithCorrelationId,
  sanitizeCorrelationId,
} from './correlation.js';
import { createLogger, type PlatformLogger } from './logger.js';

/** Injection token of the {@link PlatformLogger}. */
export const PLATFORM_LOGGER = Symbol.for('tessera.platform.logger');

/** Parameter decorator injecting the pino logger: `constructor(@InjectLogger() log: PlatformLogger)`. */
export const InjectLogger = (): ParameterDecorator & PropertyDecorator => Inject(PLATFORM_LOGGER);

/** Options for {@link LoggingModule.forRoot}. */
export interface LoggingModuleOptions {
  /** A logger made elsewhere (the bootstrap helper makes one before Nest starts). */
  logger?: PlatformLogger;
  /** Where JSON lines go when this module makes the logger; stdout when omitted. */
  destination?: DestinationStream;
}

interface MinimalRequest {
  headers: Record<string, string | string[] | undefined>;
}
interface MinimalResponse {
  setHeader(name: string, value: string): unknown;
}

/**
 * Gives every HTTP request a correlation id (the caller's `x-correlation-id` when it sent a sane
 * one), echoes it back, and runs the rest of the request inside it so logs and RPC calls carry it.
 */
export function correlationMiddleware(req: MinimalRequest, res: MinimalResponse, next: () => void): void {
  const header = req.headers[CORRELATION_ID_HEADER];
  const correlationId =
    sanitizeCorrelationId(Array.isArray(header) ? header[0] : header) ?? newCorrelationId();
  res.setHeader(CORRELATION_ID_HEADER, correlationId);
  runWithCorrelationId(correlationId, next);
}

/** Provides the structured logger ({@link PLATFORM_LOGGER}) to every module. */
@Module({})
export class LoggingModule implements NestModule {
  static forRoot(options: LoggingModuleOptions = {}): DynamicModule {
    const provider = {
      provide: PLATFORM_LOGGER,
      inject: [PlatformConfig],
      useFactory: (config: PlatformConfig): PlatformLogger =>
        options.logger ??
        createLogger({
          service: config.SERVICE_NAME,
          level: config.LOG_LEVEL,
          ...(options.destination ? { destination: options.destination } : {}),
        }),
    };
    return { global: true, module: LoggingModule, providers: [provider], exports: [PLATFORM_LOGGER] };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(correlationMiddleware).forRoutes('{*splat}');
  }
}
