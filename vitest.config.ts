import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Workspace packages resolve to their TypeScript sources under test (the `mosaic-source`
  // export condition), so a test never runs against a stale dist/. They must be inlined: an
  // externalised package would be loaded by Node itself, which cannot run the sources.
  resolve: { conditions: ['mosaic-source'] },
  ssr: { resolve: { conditions: ['mosaic-source'], externalConditions: ['mosaic-source'] } },
  test: {
    include: ['packages/*/src/**/*.test.{ts,tsx}'],
    testTimeout: 30_000,
    // after-hooks run in reverse order of registration: what a block started stops before
    // what its harness started (a gateway before its PostgreSQL)
    sequence: { hooks: 'stack' },
    server: { deps: { inline: [/@mosaic\//, /packages\/(federation-core|gateway-server|cli|tui)\//] } },
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
