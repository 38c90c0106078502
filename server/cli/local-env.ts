// Shared by the CLIs: use DATABASE_URL / REDIS_URL (or REDIS_CLUSTER_NODES) when set; otherwise bring up the local stack
// and hand back the URLs (and a stop function for what was started here).
import { z } from 'zod';
import { startLocalStack } from '../local/index.ts';
import { createLogger } from '../observability/index.ts';
import { createPostgres, type Sql } from '../store/index.ts';

// Pretty on a terminal, except in production (whose image has no pretty printer); LOG_PRETTY decides when set.
const prettyFlag = process.env['LOG_PRETTY'];
export const cliLog = createLogger({
  level: 'info',
  pretty: prettyFlag !== undefined ? /^(true|1|yes|on)$/i.test(prettyFlag) : Boolean(process.stdout.isTTY) && process.env['NODE_ENV'] !== 'production',
});

/** A service URL fit to print: its password masked. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@]*@/, '//$1:***@');
}

/** The line naming the Redis the nodes use, fit to print: the one Redis or the cluster's seed nodes. */
export function redisLine(env: Readonly<Record<string, string | undefined>>): string {
  const nodes = env['REDIS_CLUSTER_NODES'];
  if (nodes) return `  REDIS_CLUSTER_NODES ${nodes.split(',').map((node) => redactUrl(node.trim())).join(',')}`;
  return `  REDIS_URL      ${redactUrl(String(env['REDIS_URL']))}`;
}

export interface ResolvedEnv {
  env: Record<string, string | undefined>;
  stop: () => Promise<void>;
}

export async function resolveServiceUrls(needs: { postgres: boolean; redis: boolean }): Promise<ResolvedEnv> {
  const env: Record<string, string | undefined> = { ...process.env };
  const postgres = needs.postgres && !env['DATABASE_URL'];
  const redis = needs.redis && !env['REDIS_URL'] && !env['REDIS_CLUSTER_NODES'];
  if (!postgres && !redis) return { env, stop: async () => {} };
  const stack = await startLocalStack({
    profile: 'development',
    postgres,
    redis,
    log: (message) => cliLog.info(message),
  });
  if (stack.postgres) env['DATABASE_URL'] = stack.postgres.url;
  if (stack.redis) env['REDIS_URL'] = stack.redis.url;
  return { env, stop: () => stack.stop() };
}

/**
 * Runs one database task for a CLI: resolves DATABASE_URL (local stack if unset), hands `task` a
 * one-connection pool, logs a failure, cleans up, and exits 0 or 1.
 */
export async function runDatabaseTask(name: string, task: (sql: Sql, url: string) => Promise<void>): Promise<never> {
  const { env, stop } = await resolveServiceUrls({ postgres: true, redis: false });
  const url = z.string().min(1).parse(env['DATABASE_URL']);
  const sql = createPostgres({ url, poolMax: 1, applicationName: `boxoffice-${name}` });
  let code = 0;
  try {
    await task(sql, url);
  } catch (err) {
    cliLog.error({ err }, `${name} failed`);
    code = 1;
  } finally {
    await sql.end({ timeout: 5 });
    await stop();
  }
  process.exit(code);
}
