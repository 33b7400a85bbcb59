import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The files mostly wait on the servers they start: one per core, not vitest's cores − 1
    // (a single file at a time on a 2-core machine).
    maxWorkers: '100%',
    include: ['src/**/*.spec.ts'],
    globalSetup: ['@tessera/testkit/global-setup'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
