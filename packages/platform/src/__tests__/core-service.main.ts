/**
 * A service on the core platform only, as the miner agent runs it: no NATS, no database. Started
 * as a process by `core-platform.spec.ts`. It imports the built package (`@tessera/platform`), the
 * way apps do, and reports on stderr every module it resolved that the core must never load.
 */
import { registerHooks } from 'node:module';

// Messaging-only dependencies: none of them may be resolved by a core-only process, whoever asks.
const FORBIDDEN = /^(@nats-io\/|@tessera\/eventstore|@tessera\/platform\/messaging)/;
// Nest's own core looks @nestjs/microservices up (optionally) in every app, so for that one only
// our code asking counts: workspace files resolve to paths outside node_modules.
const FORBIDDEN_TO_US = /^@nestjs\/microservices/;
const forbiddenLoads = new Set<string>();
registerHooks({
  resolve(specifier, context, nextResolve) {
    const fromUs = context.parentURL !== undefined && !context.parentURL.includes('/node_modules/');
    if (FORBIDDEN.test(specifier) || (fromUs && FORBIDDEN_TO_US.test(specifier))) {
      forbiddenLoads.add(`${specifier} (from ${context.parentURL ?? '?'})`);
    }
    return nextResolve(specifier, context);
  },
});

const { bootstrapService } = await import('@tessera/platform/bootstrap');
const { PlatformConfig } = await import('@tessera/platform/config');

await bootstrapService({
  config: PlatformConfig,
  module: () => import('./core-service.module.js').then((m) => m.CoreServiceModule),
});
process.stderr.write(`forbidden modules resolved: ${JSON.stringify([...forbiddenLoads])}\n`);
