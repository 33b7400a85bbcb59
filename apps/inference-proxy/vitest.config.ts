import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.spec.ts'],
    globalSetup: ['@tessera/testkit/global-setup'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Integration files start Nest apps and child processes; two cores do best one file at a time.
    fileParallelism: false,
  },
});
