import { type INestApplication } from '@nestjs/common';
import { type AbstractHttpAdapter } from '@nestjs/core';
import { type SpanProcessor } from '@opentelemetry/sdk-trace';
import {
  parseEnv,
  platformEnvSchema,
  toRawEnv,
  type AnyConfigDefinition,
  type PlatformEnv,
} from './config/define-config.js';
import { createLogger, type PlatformLogger } from './logging/logger.js';
import { NestPinoLogger } from './logging/nest-logger.js';
import { startTelemetry, type TelemetryShutdown } from './telemetry/telemetry.js';

/** Options for {@link bootstrapService}. */
export interface BootstrapOptions {
  /** The app's config class; parsed once, before anything else happens. */
  config: AnyConfigDefinition;
  /**
   * The root module, loaded lazily: `() => import('./app.module.js').then((m) => m.AppModule)`.
   * Lazily because telemetry must patch http and pg before the app's imports load them.
   */
  module: () => Promise<unknown>;
  /** Extra span processors (tests). */
  spanProcessors?: SpanProcessor[];
  /** `false`: the app makes its own HTTP server spans (see `startTelemetry`). Default true. */
  instrumentIncomingHttp?: boolean;
  /** Signals that start a graceful shutdown. */
  signals?: NodeJS.Signals[];
  /**
   * The HTTP server, loaded lazily like the module (after telemetry): e.g.
   * `() => import('@nestjs/platform-fastify').then((m) => new m.FastifyAdapter())`. Express when omitted.
   */
  httpAdapter?: () => Promise<AbstractHttpAdapter>;
  /** Address to listen on; every interface when omitted (Fastify needs it said: it defaults to loopback). */
  listenHost?: string;
}

/** A started service. */
export interface RunningService {
  app: INestApplication;
  logger: PlatformLogger;
  /** Graceful stop: readiness off, drain RPC, consumers, NATS, database; then flush telemetry. */
  close(): Promise<void>;
}

/**
 * Starts a service. An app's `main.ts` is just:
 *
 * ```ts
 * import { bootstrapService } from '@tessera/platform/bootstrap';
 * import { BillingConfig } from './config.js'; // defineConfig from '@tessera/platform/config'
 * await bootstrapService({ config: BillingConfig, module: () => import('./app.module.js').then((m) => m.AppModule) });
 * ```
 *
 * `main.ts` must not import Nest, pg or the app module statically: this module imports none of
 * them (it loads `createApp` lazily too), starts telemetry first, and only then loads them, so the http and pg instrumentations see
 * every module load. Import from `@tessera/platform/bootstrap`, not the package root (which loads Nest).
 *
 * On SIGTERM/SIGINT the app closes gracefully within `SHUTDOWN_GRACE_MS` (see `ShutdownRegistry`)
 * and the process exits. We handle the signals ourselves instead of Nest's `enableShutdownHooks`,
 * which re-raises the signal right after the Nest hooks and so kills the process before telemetry
 * is flushed.
 */
export async function bootstrapService(options: BootstrapOptions): Promise<RunningService> {
  let config: PlatformEnv;
  try {
    // The app's schema extends the platform's; read the platform's variables from the one parse.
    config = parseEnv(platformEnvSchema, toRawEnv(options.config.load()));
  } catch (err) {
    // No service name yet: say what is wrong in the same JSON shape and stop.
    createLogger({ service: 'unconfigured' }).fatal(
      { err },
      err instanceof Error ? err.message : 'invalid environment',
    );
    process.exitCode = 1;
    throw err;
  }
  const shutdownTelemetry: TelemetryShutdown = startTelemetry({
    serviceName: config.SERVICE_NAME,
    ...(config.OTEL_EXPORTER_OTLP_ENDPOINT === undefined
      ? {}
      : { otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT }),
    ...(options.spanProcessors ? { spanProcessors: options.spanProcessors } : {}),
    ...(options.instrumentIncomingHttp === undefined
      ? {}
      : { instrumentIncomingHttp: options.instrumentIncomingHttp }),
  });
  const logger = createLogger({ service: config.SERVICE_NAME, level: config.LOG_LEVEL });

  try {
    const [{ createApp }, rootModule, httpAdapter] = await Promise.all([
      import('./lifecycle/create-app.js'),
      options.module(),
      options.httpAdapter?.(),
    ]);
    const app = await createApp(
      rootModule,
      { logger: new NestPinoLogger(logger), abortOnError: false },
      httpAdapter,
    );
    const port = config.HTTP_PORT;
    await (options.listenHost === undefined ? app.listen(port) : app.listen(port, options.listenHost));
    logger.info({ port }, 'service started');

    let closing: Promise<void> | undefined;
    const close = (): Promise<void> => {
      closing ??= (async () => {
        try {
          await app.close();
        } finally {
          await shutdownTelemetry();
        }
      })();
      return closing;
    };
    const graceMs = config.SHUTDOWN_GRACE_MS;
    for (const signal of options.signals ?? ['SIGTERM', 'SIGINT']) {
      process.once(signal, () => {
        logger.info({ signal }, 'signal received');
        // A backstop in case a drain step ignores its deadline: Kubernetes would SIGKILL us anyway.
        setTimeout(() => process.exit(1), graceMs + 5_000).unref();
        close().then(
          () => process.exit(0),
          (err: unknown) => {
            logger.fatal({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
      });
    }
    return { app, logger, close };
  } catch (err) {
    logger.fatal({ err }, 'start-up failed');
    await shutdownTelemetry();
    process.exitCode = 1;
    throw err;
  }
}
