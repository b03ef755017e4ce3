import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Workspace packages resolve to their TypeScript sources under test, so a test never
    // runs against a stale dist/.
    conditions: ['mosaic-source'],
  },
  test: {
    include: ['packages/*/src/**/*.test.{ts,tsx}'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: process.env.CI ? ['default'] : ['default'],
    coverage: {
      provider: 'v8',
      include: ['packages/federation-core/src/**/*.ts'],
      exclude: ['**/*.test.ts', '**/test-support/**', '**/bench/**'],
      reporter: ['text-summary'],
      thresholds: {
        'packages/federation-core/src/**': { lines: 90 },
      },
    },
  },
});
