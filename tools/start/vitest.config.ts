import { defineConfig } from 'vitest/config';

// These tests start real NATS servers and whole platforms: a busy machine needs more than
// vitest's 10 s defaults for that.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
