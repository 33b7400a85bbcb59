import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Other packages write '@tessera/testkit/global-setup'; here the source is the module under test.
    globalSetup: ['./src/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 180_000,
  },
});
