import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.spec.ts'],
    globalSetup: ['@tessera/testkit/global-setup'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
