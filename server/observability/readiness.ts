// What "ready" means for a node: PostgreSQL and Redis answer, the database has every migration
// this build ships, and each queue this node works has a running worker whose Redis answers.
import { checkRedis, pendingMigrations, type MigrationFile, type Redis, type Sql } from '../store/index.ts';
import type { ReadinessCheck } from './health.ts';

/** A queue worker as readiness sees it (jobs' RunningWorker). */
export interface QueueWorker {
  queue: string;
  ready(): Promise<void>;
}

export interface ReadinessDeps {
  sql: Sql;
  redis: Redis;
  migrations: readonly MigrationFile[];
  /**
   * The queues this node works, one check each (`queue:<name>`), and where their workers are found
   * at check time: workers start after the app is built.
   */
  queues?: { names: readonly string[]; workers: () => readonly QueueWorker[] };
}

export function readinessChecks(deps: ReadinessDeps): ReadinessCheck[] {
  return [
    { name: 'postgres', check: async () => void (await deps.sql`select 1`) },
    { name: 'redis', check: () => checkRedis(deps.redis) },
    {
      name: 'migrations',
      check: async () => {
        const pending = await pendingMigrations(deps.sql, deps.migrations);
        if (pending.length > 0) throw new Error(`pending ${pending.join(', ')}; run npm run migrate -- up`);
      },
    },
    ...(deps.queues ? queueChecks(deps.queues.names, deps.queues.workers) : []),
  ];
}

function queueChecks(names: readonly string[], workers: () => readonly QueueWorker[]): ReadinessCheck[] {
  return names.map((queue) => ({
    name: `queue:${queue}`,
    check: async () => {
      const worker = workers().find((w) => w.queue === queue);
      if (!worker) throw new Error('no worker started');
      await worker.ready();
    },
  }));
}
