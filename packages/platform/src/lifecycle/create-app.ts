import { type INestApplication, type NestApplicationOptions } from '@nestjs/common';
import { NestFactory, type AbstractHttpAdapter } from '@nestjs/core';
import { TransportRegistry } from './transport-registry.js';

/**
 * Creates a service's Nest app and starts everything but HTTP: the start-up hooks run, then the
 * transports registered in {@link TransportRegistry} (the RPC server) connect as Nest
 * microservices and start taking requests. The one way to build an app, for `bootstrapService`
 * and for tests that run a service in-process; the caller decides whether to `listen` on HTTP.
 *
 * Transports start after `init` so no request reaches a handler before every module finished
 * starting. They inherit the app's global pipes, guards, interceptors and filters.
 *
 * `httpAdapter` picks the HTTP server (e.g. `new FastifyAdapter()` from `@nestjs/platform-fastify`);
 * Nest's default, Express, when omitted.
 */
export async function createApp(
  rootModule: unknown,
  options: NestApplicationOptions = {},
  httpAdapter?: AbstractHttpAdapter,
): Promise<INestApplication> {
  const module = rootModule as Parameters<typeof NestFactory.create>[0];
  const app = httpAdapter
    ? await NestFactory.create(module, httpAdapter, options)
    : await NestFactory.create(module, options);
  try {
    for (const strategy of app.get(TransportRegistry).all()) {
      app.connectMicroservice({ strategy }, { inheritAppConfig: true });
    }
    await app.init();
    await app.startAllMicroservices();
    return app;
  } catch (err) {
    await app.close().catch(() => undefined);
    throw err;
  }
}
