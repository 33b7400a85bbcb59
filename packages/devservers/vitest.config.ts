import { defineConfig } from 'vitest/config';

// These tests start real servers (NATS, a 3-node cluster, Postgres): a busy machine needs more
// than vitest's 10 s defaults for that.
export default defineConfig({
  test: {
    include: ['src/**/*.spec.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
