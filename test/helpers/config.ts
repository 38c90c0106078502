// A valid development Config for tests, with overrides.
import { loadConfig, type Config } from '../../server/config.ts';

export function testConfig(env: Record<string, string | undefined> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: 'postgres://user:pass@127.0.0.1:1/unused',
    REDIS_URL: 'redis://127.0.0.1:1',
    LOG_LEVEL: 'silent',
    ...env,
  });
}
