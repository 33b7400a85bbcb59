import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.spec.ts'],
    // One nats-server and one Postgres for the run; each file gets its own namespace and schema.
    globalSetup: ['@tessera/testkit/global-setup'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
