import { defineConfig } from 'vitest/config';

// The chaos scenarios (test/chaos): each starts its own PostgreSQL, Redis and server processes and
// breaks them on purpose, so they run one file at a time, after the main suite (npm test).
export default defineConfig({
  test: {
    globals: false,
    include: ['test/chaos/**/*.chaos.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 240_000,
    hookTimeout: 120_000,
  },
});
