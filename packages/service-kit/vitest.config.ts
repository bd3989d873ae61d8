import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Shared servers for the outbox test; database.int.test.ts starts its own as well.
    globalSetup: ['@storefront/testing/global-setup'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
