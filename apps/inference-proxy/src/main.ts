import { bootstrapService } from '@tessera/platform/bootstrap';
import { ProxyConfig } from './config.js';

const config = ProxyConfig.load();

await bootstrapService({
  config: ProxyConfig,
  module: () => import('./root.module.js').then((m) => m.AppModule),
  // Fastify, with its own body limit; the Express comparison the issue asks for is not measured yet.
  // Fastify listens on loopback unless told, so the public host is said.
  httpAdapter: () =>
    import('@nestjs/platform-fastify').then(
      (m) => new m.FastifyAdapter({ bodyLimit: config.MAX_BODY_BYTES }),
    ),
  listenHost: config.PUBLIC_HOST,
  // The proxy makes its own server spans (tracing/request-spans.ts): cheaper on the hot path.
  instrumentIncomingHttp: false,
});
