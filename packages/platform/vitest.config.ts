import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The files mostly wait on the servers they start: one per core, not vitest's cores − 1
    // (a single file at a time on a 2-core machine).
    maxWorkers: '100%',
    include: ['src/**/*.spec.ts'],
    // One nats-server and one Postgres for the run; each file gets its own namespace and schema.
    globalSetup: ['@tessera/testkit/global-setup'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
