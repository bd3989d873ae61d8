import { defineConfig } from 'vitest/config';

// pnpm test:chaos: the shop under faults (src/chaos). Long, so not part of the default run.
export default defineConfig({
  test: {
    include: ['src/chaos/**/*.chaos.ts'],
    globalSetup: ['@storefront/testing/global-setup'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
