// PostgreSQL and Redis of one chaos scenario, its own and nobody else's (the other test files'
// stores must not restart under them): started like the local stack, migrated, and with the
// faults a scenario injects — Redis killed and started again on its AOF, Redis emptied, PostgreSQL
// killed (an immediate shutdown, as a crash) and started again.
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { LOCAL_DATA_DIR, startLocalPostgres, startLocalRedis, type LocalPostgres, type LocalRedis } from '../../server/local/index.ts';
import { freePort, isProcessAlive, sleep } from '../../server/local/system.ts';
import { connectRedis, createPostgres, createRedis, migrateUp, type Redis, type Sql } from '../../server/store/index.ts';

export const KEY_PREFIX = 'bo';

export interface ChaosStores {
  postgresUrl: string;
  redisUrl: string;
  /** For the checks: reconnects by itself after a restart. */
  sql: Sql;
  redis: Redis;
  /** SIGKILL, as a crash: what was acknowledged is in the AOF (written before each reply). */
  killRedis(): Promise<void>;
  startRedis(): Promise<void>;
  flushRedis(): Promise<void>;
  /** An immediate shutdown (SIGQUIT to the postmaster): no checkpoint, recovery from the WAL on start. */
  killPostgres(): Promise<void>;
  startPostgres(): Promise<void>;
  stop(): Promise<void>;
}

async function pidIn(file: string): Promise<number | null> {
  if (!existsSync(file)) return null;
  const pid = Number((await readFile(file, 'utf8')).split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

async function killAndWait(pid: number | null, signal: NodeJS.Signals): Promise<void> {
  if (pid === null || !isProcessAlive(pid)) return;
  process.kill(pid, signal);
  for (let i = 0; i < 100 && isProcessAlive(pid); i++) await sleep(50);
  if (isProcessAlive(pid)) throw new Error(`process ${pid} outlived ${signal} for 5 s`);
}

/**
 * `durable`: PostgreSQL commits as in production (the test profile acknowledges commits before
 * their WAL is on disk, which a crash may then lose) — for the scenarios that crash it.
 */
export async function startChaosStores(name: string, options: { durable?: boolean } = {}): Promise<ChaosStores> {
  // Under the test runs' folder, named for this process: a run that dies is swept by the next.
  const root = join(LOCAL_DATA_DIR, 'test', `run-${process.pid}`, `chaos-${name}`);
  const log = () => {};
  const pgOptions = { dataDir: join(root, 'postgres'), port: await freePort(), database: 'boxoffice_chaos', profile: options.durable ? ('development' as const) : ('test' as const), reuseRunning: false, log };
  const redisOptions = { dataDir: join(root, 'redis'), port: await freePort(), reuseRunning: false, log };
  let postgres: LocalPostgres | null = null;
  let redisServer: LocalRedis | null = null;
  try {
    [postgres, redisServer] = await Promise.all([startLocalPostgres(pgOptions), startLocalRedis(redisOptions)]);
  } catch (err) {
    await Promise.allSettled([postgres?.stop(), redisServer?.stop()]);
    throw err;
  }
  const sql = createPostgres({ url: postgres.url, poolMax: 4, applicationName: 'boxoffice-chaos' });
  await migrateUp(sql);
  const redis = await connectRedis(createRedis({ url: redisServer.url, name: 'boxoffice-chaos' }));
  redis.on('error', () => {}); // down on purpose during a fault; commands fail fast meanwhile

  return {
    postgresUrl: postgres.url,
    redisUrl: redisServer.url,
    sql,
    redis,
    killRedis: async () => killAndWait(await pidIn(join(redisOptions.dataDir, 'redis.pid')), 'SIGKILL'),
    async startRedis() {
      redisServer = await startLocalRedis(redisOptions);
    },
    async flushRedis() {
      await redis.flushall();
    },
    killPostgres: async () => killAndWait(await pidIn(join(pgOptions.dataDir, 'postmaster.pid')), 'SIGQUIT'),
    async startPostgres() {
      postgres = await startLocalPostgres(pgOptions);
    },
    async stop() {
      redis.disconnect();
      await sql.end({ timeout: 5 });
      await Promise.allSettled([postgres?.stop(), redisServer?.stop()]);
      await rm(root, { recursive: true, force: true });
    },
  };
}
