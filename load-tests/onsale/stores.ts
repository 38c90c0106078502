// PostgreSQL and Redis for a run: a throwaway pair from the local stack (load-tests/harness.ts),
// or — when aiming at running nodes — the ones DATABASE_URL and REDIS_URL name (the nodes' own,
// which seeding and the promise checks need).
import { loadConfig, type Config } from '../../server/config.ts';
import { connectRedis, createPostgres, createRedis, type Redis, type Sql } from '../../server/store/index.ts';
import { startBenchStack } from '../harness.ts';

export interface Stores {
  sql: Sql;
  redis: Redis;
  config: Config;
  urls: { postgres: string; redis: string };
  /** Whether the stores are this run's own (then nodes are started over them, and they are removed after). */
  throwaway: boolean;
  stop(): Promise<void>;
}

export async function openStores(target: readonly string[]): Promise<Stores> {
  if (target.length) {
    const config = loadConfig(process.env);
    const sql = createPostgres({ url: config.postgres.url, poolMax: 4, applicationName: 'boxoffice-loadtest' });
    const redis = await connectRedis(createRedis({ url: config.redis.url, name: 'boxoffice-loadtest' }));
    return {
      sql,
      redis,
      config,
      urls: { postgres: config.postgres.url, redis: config.redis.url },
      throwaway: false,
      async stop() {
        redis.disconnect();
        await sql.end({ timeout: 5 });
      },
    };
  }
  const bench = await startBenchStack();
  const redis = await connectRedis(createRedis({ url: bench.config.redis.url, name: 'boxoffice-loadtest' }));
  return {
    sql: bench.sql,
    redis,
    config: bench.config,
    urls: { postgres: bench.config.postgres.url, redis: bench.config.redis.url },
    throwaway: true,
    async stop() {
      redis.disconnect();
      await bench.stop();
    },
  };
}
