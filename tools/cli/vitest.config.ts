import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.spec.ts', 'test/**/*.test.ts'],
    globalSetup: ['@tessera/testkit/global-setup'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // The tests run billing, the CLI and a whole fresh clone as processes: one file at a time.
    fileParallelism: false,
  },
});
