import { defineConfig } from 'vitest/config';

// These tests start real NATS servers and whole platforms: a busy machine needs more than
// vitest's 10 s defaults for that.
export default defineConfig({
  test: {
    // The files mostly wait on the servers they start: one per core, not vitest's cores − 1
    // (a single file at a time on a 2-core machine).
    maxWorkers: '100%',
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
