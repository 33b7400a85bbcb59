import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The files mostly wait on the servers they start: one per core, not vitest's cores − 1
    // (a single file at a time on a 2-core machine).
    maxWorkers: '100%',
    // Other packages write '@tessera/testkit/global-setup'; here the source is the module under test.
    globalSetup: ['./src/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 180_000,
  },
});
