// A project-local Redis for development and tests: loopback only, password, AOF on, noeviction
// (BullMQ must never lose a key to eviction). Installs redis-server through apt when it is missing
// and we are root on Debian; otherwise says exactly what to install.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createRedis } from '../store/redis.ts';
import { aptGetIfRoot, aptInstall, findBinary, isProcessAlive, run, sleep } from './system.ts';

export interface LocalRedisOptions {
  dataDir: string;
  port: number;
  /** Reuse a server already running from this folder (development) instead of restarting it. */
  reuseRunning: boolean;
  log: (message: string) => void;
}

export interface LocalRedis {
  url: string;
  started: boolean;
  stop(): Promise<void>;
}

const SBIN_DIRS = ['/usr/bin', '/usr/sbin', '/usr/local/bin'];
export const REDIS_INSTALL_COMMAND = 'apt-get update && apt-get install -y --no-install-recommends redis-server';

/** The redis-server binary: found on PATH or in the sbin folders, or installed through apt (root on Debian). */
export async function redisServerBinary(log: (message: string) => void): Promise<string> {
  const found = await findBinary('redis-server', SBIN_DIRS);
  if (found) return found;
  const apt = await aptGetIfRoot();
  if (!apt) {
    throw new Error(
      `redis-server was not found. Install Redis 7 (Debian: sudo ${REDIS_INSTALL_COMMAND}) ` +
        'or set REDIS_URL to an existing Redis.',
    );
  }
  log('redis-server is missing; installing it with apt-get (root on Debian)');
  await aptInstall(apt, ['redis-server']);
  const installed = await findBinary('redis-server', SBIN_DIRS);
  if (!installed) throw new Error('apt-get installed redis-server but the binary is not on PATH');
  return installed;
}

async function readOrCreatePassword(file: string): Promise<string> {
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const password = randomBytes(18).toString('base64url');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return password;
}

async function livePid(pidFile: string): Promise<number | null> {
  if (!existsSync(pidFile)) return null;
  const pid = Number((await readFile(pidFile, 'utf8')).trim());
  return Number.isInteger(pid) && pid > 0 && isProcessAlive(pid) ? pid : null;
}

async function answersPing(url: string): Promise<boolean> {
  const client = createRedis({ url, name: 'boxoffice-local' });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

async function shutdown(url: string): Promise<void> {
  const client = createRedis({ url, name: 'boxoffice-local' });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.call('SHUTDOWN').catch(() => {}); // the connection closes as the server exits
  } finally {
    client.disconnect();
  }
}

export async function startLocalRedis(opts: LocalRedisOptions): Promise<LocalRedis> {
  const dataDir = resolve(opts.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o755 });
  await chmod(dataDir, 0o700);
  const password = await readOrCreatePassword(join(dataDir, 'redis.password'));
  const pidFile = join(dataDir, 'redis.pid');
  const portFile = join(dataDir, 'redis.port');
  const urlFor = (port: number) => `redis://:${encodeURIComponent(password)}@127.0.0.1:${port}`;

  const runningPid = await livePid(pidFile);
  if (runningPid !== null && existsSync(portFile)) {
    const port = Number((await readFile(portFile, 'utf8')).trim());
    if (opts.reuseRunning && (await answersPing(urlFor(port)))) {
      opts.log(`reusing Redis already running on 127.0.0.1:${port}`);
      return { url: urlFor(port), started: false, stop: async () => {} };
    }
    process.kill(runningPid, 'SIGTERM');
    for (let i = 0; i < 50 && isProcessAlive(runningPid); i++) await sleep(100);
  }

  const binary = await redisServerBinary(opts.log);
  opts.log(`starting Redis on 127.0.0.1:${opts.port}`);
  // A config file (not argv) so the password stays out of the process list.
  const confFile = join(dataDir, 'redis.conf');
  const conf = [
    `port ${opts.port}`, 'bind 127.0.0.1', 'protected-mode yes', `requirepass ${password}`,
    `dir ${dataDir}`, 'daemonize yes', `pidfile ${pidFile}`, `logfile ${join(dataDir, 'redis.log')}`,
    'appendonly yes', 'appendfsync everysec', 'save ""', 'maxmemory-policy noeviction',
  ];
  await writeFile(confFile, `${conf.join('\n')}\n`, { mode: 0o600 });
  await run(binary, [confFile]);
  await writeFile(portFile, String(opts.port));
  const url = urlFor(opts.port);
  for (let i = 0; !(await answersPing(url)); i++) {
    if (i >= 100) throw new Error(`Redis did not answer on 127.0.0.1:${opts.port}; see ${join(dataDir, 'redis.log')}`);
    await sleep(100);
  }
  let started = true;
  return {
    url,
    started,
    async stop() {
      if (!started) return;
      started = false;
      const pid = await livePid(pidFile);
      await shutdown(url);
      for (let i = 0; pid !== null && i < 50 && isProcessAlive(pid); i++) await sleep(100);
    },
  };
}
