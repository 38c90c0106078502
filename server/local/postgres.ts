// A project-local PostgreSQL for development and tests: initdb into an ignored folder, loopback
// only, password auth, started and stopped with pg_ctl. As root it runs as an unprivileged user,
// because PostgreSQL refuses to run as root.
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createPostgres, quoteIdent } from '../store/postgres.ts';
import { findBinary, isProcessAlive, isRoot, run } from './system.ts';

export interface LocalPostgresOptions {
  /** Folder for the cluster; its parent holds the password and log files. */
  dataDir: string;
  port: number;
  database: string;
  /** Test clusters trade durability for speed (fsync off); development keeps the defaults. */
  profile: 'development' | 'test';
  /** Reuse a cluster already running from this folder (development) instead of restarting it. */
  reuseRunning: boolean;
  log: (message: string) => void;
}

export interface LocalPostgres {
  /** URL of the project database. */
  url: string;
  /** URL of the maintenance database, for creating and dropping throwaway databases. */
  adminUrl: string;
  /** True when this call started the server (and so stop() stops it). */
  started: boolean;
  stop(): Promise<void>;
}

const SUPERUSER = 'boxoffice';

export async function postgresBinDir(): Promise<string> {
  const initdb = await findBinary('initdb');
  // Resolve links (a distribution may link only initdb and pg_ctl into /usr/local/bin).
  if (initdb && (await findBinary('pg_ctl'))) return dirname(await realpath(initdb));
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? (await readdir(root)).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a))
    : [];
  for (const version of versions) {
    const dir = join(root, version, 'bin');
    if (existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  }
  throw new Error(
    'PostgreSQL server binaries (initdb, pg_ctl) were not found. Install them (Debian: apt-get install postgresql) ' +
      'or set DATABASE_URL to an existing PostgreSQL 15+ database.',
  );
}

/** The user the server runs as: ourselves, or (as root) `postgres` or a system user we create. */
async function serverUser(): Promise<string | undefined> {
  if (!isRoot()) return undefined;
  for (const candidate of ['postgres', 'boxoffice']) {
    try {
      await run('id', ['-u', candidate]);
      return candidate;
    } catch {
      // try the next one
    }
  }
  await run('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'boxoffice']);
  return 'boxoffice';
}

async function uidGid(user: string): Promise<[number, number]> {
  const [uid, gid] = await Promise.all([run('id', ['-u', user]), run('id', ['-g', user])]);
  return [Number(uid.trim()), Number(gid.trim())];
}

async function readOrCreatePassword(file: string): Promise<string> {
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const password = randomBytes(18).toString('base64url');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return password;
}

const SETTINGS: Record<LocalPostgresOptions['profile'], string[]> = {
  development: [],
  test: ['fsync = off', 'synchronous_commit = off', 'full_page_writes = off'],
};

async function initCluster(bin: string, dataDir: string, password: string, opts: LocalPostgresOptions, user?: string) {
  opts.log(`initialising PostgreSQL cluster in ${dataDir}`);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  // initdb reads the password from a file; keep it out of the data folder (which must be empty).
  const pwDir = await mkdtemp(join(tmpdir(), 'boxoffice-initdb-'));
  const pwFile = join(pwDir, 'password');
  await writeFile(pwFile, password, { mode: 0o600 });
  try {
    if (user) {
      const [uid, gid] = await uidGid(user);
      await chown(dataDir, uid, gid);
      await chown(pwDir, uid, gid);
      await chown(pwFile, uid, gid);
    }
    await chmod(dataDir, 0o700);
    await run(
      join(bin, 'initdb'),
      ['-D', dataDir, '-U', SUPERUSER, '--pwfile', pwFile, '--auth=scram-sha-256', '-E', 'UTF8', '--locale=C'],
      { asUser: user },
    );
  } finally {
    await rm(pwDir, { recursive: true, force: true });
  }
  const settings = [
    "listen_addresses = '127.0.0.1'",
    "unix_socket_directories = ''",
    'max_connections = 300',
    ...SETTINGS[opts.profile],
  ];
  const conf = join(dataDir, 'postgresql.auto.conf');
  await writeFile(conf, `${(await readFile(conf, 'utf8')).trimEnd()}\n${settings.join('\n')}\n`);
}

async function runningPort(dataDir: string): Promise<number | null> {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return null;
  const lines = (await readFile(pidFile, 'utf8')).split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  return Number.isInteger(pid) && isProcessAlive(pid) && Number.isInteger(port) ? port : null;
}

export async function startLocalPostgres(opts: LocalPostgresOptions): Promise<LocalPostgres> {
  const dataDir = resolve(opts.dataDir);
  const bin = await postgresBinDir();
  const user = await serverUser();
  // Parents stay traversable: as root the server runs as another user that must reach its folder.
  await mkdir(dirname(dataDir), { recursive: true, mode: 0o755 });
  const password = await readOrCreatePassword(join(dirname(dataDir), 'postgres.password'));
  if (!existsSync(join(dataDir, 'PG_VERSION'))) await initCluster(bin, dataDir, password, opts, user);

  const pgCtl = (args: string[]) => run(join(bin, 'pg_ctl'), ['-D', dataDir, ...args], { asUser: user });
  const logFile = join(dataDir, 'server.log');
  let port = opts.port;
  let started = false;
  const alreadyOn = await runningPort(dataDir);
  if (alreadyOn !== null && opts.reuseRunning) {
    port = alreadyOn;
    opts.log(`reusing PostgreSQL already running on 127.0.0.1:${port}`);
  } else {
    if (alreadyOn !== null) await pgCtl(['stop', '-m', 'immediate', '-w']);
    opts.log(`starting PostgreSQL on 127.0.0.1:${port}`);
    await pgCtl(['start', '-w', '-t', '60', '-l', logFile, '-o', `-p ${port}`]);
    started = true;
  }

  const base = `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  const adminUrl = `${base}/postgres`;
  await ensureDatabase(adminUrl, opts.database);
  return {
    url: `${base}/${opts.database}`,
    adminUrl,
    started,
    async stop() {
      if (!started) return;
      await pgCtl(['stop', '-m', 'fast', '-w']);
      started = false;
    },
  };
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const admin = createPostgres({ url: adminUrl, poolMax: 1, applicationName: 'boxoffice-local' });
  try {
    const [row] = await admin<{ present: boolean }[]>`select exists (select 1 from pg_database where datname = ${database}) as present`;
    if (!row?.present) await admin.unsafe(`create database ${quoteIdent(database)}`);
  } finally {
    await admin.end({ timeout: 5 });
  }
}
