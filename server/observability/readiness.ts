// What "ready" means for a node: PostgreSQL and Redis answer, and the database has every
// migration this build ships.
import { pendingMigrations, type MigrationFile, type Redis, type Sql } from '../store/index.ts';
import type { ReadinessCheck } from './health.ts';

export function readinessChecks(deps: { sql: Sql; redis: Redis; migrations: readonly MigrationFile[] }): ReadinessCheck[] {
  return [
    { name: 'postgres', check: async () => void (await deps.sql`select 1`) },
    { name: 'redis', check: async () => void (await deps.redis.ping()) },
    {
      name: 'migrations',
      check: async () => {
        const pending = await pendingMigrations(deps.sql, deps.migrations);
        if (pending.length > 0) throw new Error(`pending ${pending.join(', ')}; run npm run migrate -- up`);
      },
    },
  ];
}
