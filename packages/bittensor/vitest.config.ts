import { defineConfig } from 'vitest/config';

// The chain spec starts chopsticks (~20 s on 2 cores) and builds a block per extrinsic.
export default defineConfig({ test: { include: ['src/**/*.spec.ts'], testTimeout: 120_000, hookTimeout: 180_000 } });
