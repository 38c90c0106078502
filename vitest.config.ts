import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globals: false,
    include: ['server/**/*.test.ts', 'machines/**/*.test.ts', 'clients/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    coverage: {
      provider: 'v8',
      include: ['server/**/*.ts', 'machines/**/*.ts'],
      exclude: [
        '**/*.test.ts',
        // Process entry points: exercised by spawning them (see server/process.int.test.ts), which
        // in-process coverage cannot see.
        'server/main.ts',
        'server/cli/**',
        // The local stack runs in the test runner's main process (global setup), outside coverage.
        'server/local/**',
      ],
      reporter: ['text-summary', 'text'],
      // The floor both audits asked for; raise it as the code grows, never lower it.
      thresholds: { 'server/**': { lines: 85 }, 'machines/**': { lines: 85 }, lines: 85 },
    },
  },
});
