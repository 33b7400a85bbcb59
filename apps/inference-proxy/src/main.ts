import { bootstrapService } from '@tessera/platform/bootstrap';
import { ProxyConfig } from './config.js';

const config = ProxyConfig.load();

await bootstrapService({
  config: ProxyConfig,
  module: () => import('./root.module.js').then((m) => m.AppModule),
  // Fastify: measured faster than Express on this path; the public API needs its listen host said.
  httpAdapter: () =>
    import('@nestjs/platform-fastify').then(
      (m) => new m.FastifyAdapter({ bodyLimit: config.MAX_BODY_BYTES }),
    ),
  listenHost: config.PUBLIC_HOST,
});
