// The local stack: the PostgreSQL and Redis that `npm start` and `npm test` bring up when
// DATABASE_URL / REDIS_URL are unset. Development only; production points at real services.
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { postgresBinDir, startLocalPostgres, type LocalPostgres } from './postgres.ts';
import { startLocalRedis, type LocalRedis } from './redis.ts';
import { freePort, isProcessAlive, sleep } from './system.ts';

export { postgresBinDir, startLocalPostgres, startLocalRedis, type LocalPostgres, type LocalRedis };
export { REDIS_INSTALL_COMMAND } from './redis.ts';

/** The ignored folder that holds local clusters: `<repo>/.data`. */
export const LOCAL_DATA_DIR = resolve(fileURLToPath(import.meta.url), '../../../.data');

export interface LocalStackOptions {
  profile: 'development' | 'test';
  postgres: boolean;
  redis: boolean;
  log: (message: string) => void;
}

export interface LocalStack {
  postgres: LocalPostgres | null;
  redis: LocalRedis | null;
  stop(): Promise<void>;
}

/** Fixed ports for development (stable URLs to paste into psql); any free port for tests. */
// Below Linux's ephemeral range (32768-60999), so an outgoing connection never squats on them.
const DEV_PORTS = { postgres: 15432, redis: 16379 };

/** Stops and deletes what test runs that died left behind (their owner process is gone). */
async function sweepStaleTestRuns(testRoot: string): Promise<void> {
  if (!existsSync(testRoot)) return;
  for (const entry of await readdir(testRoot)) {
    const owner = Number(/^run-(\d+)$/.exec(entry)?.[1]);
    if (!owner || isProcessAlive(owner)) continue;
    const dir = join(testRoot, entry);
    for (const [pidFile, signal] of [
      [join(dir, 'postgres', 'postmaster.pid'), 'SIGQUIT'],
      [join(dir, 'redis', 'redis.pid'), 'SIGTERM'],
    ] as const) {
      const pid = existsSync(pidFile) ? Number((await readFile(pidFile, 'utf8')).split('\n')[0]) : 0;
      if (pid > 0 && isProcessAlive(pid)) process.kill(pid, signal);
    }
    await sleep(200);
    await rm(dir, { recursive: true, force: true });
  }
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const dev = options.profile === 'development';
  // Each test run gets its own throwaway clusters, so two runs in one checkout never collide.
  const testRoot = join(LOCAL_DATA_DIR, 'test');
  if (!dev) await sweepStaleTestRuns(testRoot);
  const root = dev ? join(LOCAL_DATA_DIR, 'dev') : join(testRoot, `run-${process.pid}`);
  const started = await Promise.allSettled([
    options.postgres
      ? startLocalPostgres({
          dataDir: join(root, 'postgres'),
          port: dev ? DEV_PORTS.postgres : await freePort(),
          database: dev ? 'boxoffice' : 'boxoffice_test',
          profile: options.profile,
          reuseRunning: dev,
          log: options.log,
        })
      : null,
    options.redis
      ? startLocalRedis({
          dataDir: join(root, 'redis'),
          port: dev ? DEV_PORTS.redis : await freePort(),
          reuseRunning: dev,
          log: options.log,
        })
      : null,
  ]);
  const [postgres, redis] = started.map((s) => (s.status === 'fulfilled' ? s.value : null)) as [LocalPostgres | null, LocalRedis | null];
  const failure = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) {
    // Leave nothing running behind a failed start.
    await Promise.allSettled([postgres?.stop(), redis?.stop()]);
    throw failure.reason;
  }
  return {
    postgres,
    redis,
    async stop() {
      await Promise.allSettled([postgres?.stop(), redis?.stop()]);
      if (!dev) await rm(root, { recursive: true, force: true });
    },
  };
}
