// Backups with PostgreSQL's own tools: pg_dump in the custom format (compressed, restorable table
// by table) into a directory, keeping the newest `keep` files; pg_restore into a database, dropping
// what it replaces. The binaries come from the local PostgreSQL installation.
import { execFile } from 'node:child_process';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { postgresBinDir } from '../local/postgres.ts';

const run = promisify(execFile);
const PREFIX = 'boxoffice-';
const SUFFIX = '.dump';

/** Writes `<dir>/boxoffice-<UTC timestamp>.dump`; removes all but the newest `keep`. Returns the file. */
export async function backupDatabase(options: { url: string; dir: string; keep: number; now?: Date }): Promise<{ file: string; removed: string[] }> {
  await mkdir(options.dir, { recursive: true });
  const stamp = (options.now ?? new Date()).toISOString().replace(/[:.]/g, '-');
  const file = join(options.dir, `${PREFIX}${stamp}${SUFFIX}`);
  const bin = await postgresBinDir();
  await run(join(bin, 'pg_dump'), ['--format=custom', '--no-owner', '--no-privileges', `--file=${file}`, `--dbname=${options.url}`], { maxBuffer: 16 * 1024 * 1024 });
  const dumps = (await readdir(options.dir)).filter((f) => f.startsWith(PREFIX) && f.endsWith(SUFFIX)).sort();
  const removed = dumps.slice(0, Math.max(0, dumps.length - options.keep));
  for (const old of removed) await rm(join(options.dir, old));
  return { file, removed };
}

/** Restores a dump into the database at `url`, replacing the objects it contains. */
export async function restoreDatabase(options: { url: string; file: string }): Promise<void> {
  const bin = await postgresBinDir();
  await run(join(bin, 'pg_restore'), ['--clean', '--if-exists', '--no-owner', '--no-privileges', '--exit-on-error', `--dbname=${options.url}`, options.file], {
    maxBuffer: 16 * 1024 * 1024,
  });
}
