import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.spec.ts'],
    globalSetup: ['@tessera/testkit/global-setup'],
    testTimeout: 180_000,
    hookTimeout: 240_000,
    // The end-to-end file runs a chain, three miner-agents, billing, the indexer and the
    // scheduler as processes: two cores do best one file at a time.
    fileParallelism: false,
  },
});
