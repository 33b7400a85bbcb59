import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.spec.ts'],
    // No global NATS/Postgres: the miner-agent runs without either.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Integration files start processes and llama.cpp; two cores do best one file at a time.
    fileParallelism: false,
  },
});
