// Shared by the CLIs: use DATABASE_URL / REDIS_URL when set; otherwise bring up the local stack
// and hand back the URLs (and a stop function for what was started here).
import { createLogger } from '../observability/index.ts';
import { startLocalStack } from '../local/index.ts';

export const cliLog = createLogger({ level: 'info', pretty: Boolean(process.stdout.isTTY) });

export interface ResolvedEnv {
  env: Record<string, string | undefined>;
  stop: () => Promise<void>;
}

export async function resolveServiceUrls(needs: { postgres: boolean; redis: boolean }): Promise<ResolvedEnv> {
  const env: Record<string, string | undefined> = { ...process.env };
  const postgres = needs.postgres && !env['DATABASE_URL'];
  const redis = needs.redis && !env['REDIS_URL'];
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
