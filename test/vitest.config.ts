import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['@storefront/testing/global-setup'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Each file starts real processes; running files one at a time keeps a 2-core machine honest.
    fileParallelism: false,
  },
});
