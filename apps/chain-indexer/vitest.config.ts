import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.spec.ts'],
    globalSetup: ['@tessera/testkit/global-setup'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
