// A small migration runner over postgres.js: numbered `NNNN_name.up.sql` / `.down.sql` pairs,
// applied in one transaction under an advisory lock (two nodes starting at once apply each once),
// with checksums so an edited, already-applied migration is caught instead of silently skipped.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Sql, TransactionSql } from './postgres.ts';

export const DEFAULT_MIGRATIONS_DIR = resolve(fileURLToPath(import.meta.url), '../../../migrations');

/** Any constant shared by every node; only migrations take this lock. */
const MIGRATION_LOCK_KEY = 0x626f_786f; // "boxo"
const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.(up|down)\.sql$/;

export interface MigrationFile {
  version: number;
  name: string;
  up: string;
  down: string;
  checksum: string;
}

export interface MigrationStatus {
  version: number;
  name: string;
  applied: boolean;
  appliedAt: Date | null;
}

export class MigrationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MigrationError';
  }
}

export async function readMigrations(dir: string = DEFAULT_MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const byVersion = new Map<number, { name: string; up?: string; down?: string }>();
  for (const file of (await readdir(dir)).sort()) {
    const match = FILE_PATTERN.exec(file);
    if (!match) continue;
    const [, digits, name, direction] = match as unknown as [string, string, string, 'up' | 'down'];
    const version = Number(digits);
    const entry = byVersion.get(version) ?? { name };
    if (entry.name !== name) throw new MigrationError(`migration ${digits} has two names: ${entry.name}, ${name}`);
    entry[direction] = await readFile(join(dir, file), 'utf8');
    byVersion.set(version, entry);
  }
  return [...byVersion.entries()]
    .sort(([a], [b]) => a - b)
    .map(([version, entry]) => {
      if (entry.up === undefined || entry.down === undefined) {
        throw new MigrationError(`migration ${version} (${entry.name}) needs both an up and a down file`);
      }
      const checksum = createHash('sha256').update(entry.up).digest('hex');
      return { version, name: entry.name, up: entry.up, down: entry.down, checksum };
    });
}

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
  applied_at: Date;
}

async function ensureTable(tx: TransactionSql): Promise<void> {
  await tx`
    create table if not exists schema_migrations (
      version    integer primary key,
      name       text not null,
      checksum   text not null,
      applied_at timestamptz not null default now()
    )`;
}

async function applied(tx: TransactionSql | Sql): Promise<AppliedRow[]> {
  return tx<AppliedRow[]>`select version, name, checksum, applied_at from schema_migrations order by version`;
}

function verifyChecksums(files: MigrationFile[], rows: AppliedRow[]): void {
  const byVersion = new Map(files.map((f) => [f.version, f]));
  for (const row of rows) {
    const file = byVersion.get(row.version);
    if (!file) throw new MigrationError(`database has migration ${row.version} (${row.name}) that is not on disk`);
    if (file.checksum !== row.checksum) {
      throw new MigrationError(`migration ${row.version} (${row.name}) was edited after it was applied`);
    }
  }
}

/** Runs `work` in one transaction holding the migration lock, with the bookkeeping table present. */
async function locked<T>(sql: Sql, work: (tx: TransactionSql) => Promise<T>): Promise<T> {
  return (await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`;
    await ensureTable(tx);
    return work(tx);
  })) as T;
}

async function runScript(tx: TransactionSql, label: string, script: string): Promise<void> {
  try {
    await tx.unsafe(script).simple();
  } catch (err) {
    throw new MigrationError(`${label} failed: ${(err as Error).message}`, { cause: err });
  }
}

/** Applies every pending migration (or up to `target`); returns the versions applied. */
export async function migrateUp(sql: Sql, options: { dir?: string; target?: number } = {}): Promise<number[]> {
  const files = await readMigrations(options.dir);
  return locked(sql, async (tx) => {
    const rows = await applied(tx);
    verifyChecksums(files, rows);
    const done = new Set(rows.map((r) => r.version));
    const pending = files.filter((f) => !done.has(f.version) && f.version <= (options.target ?? Infinity));
    for (const file of pending) {
      await runScript(tx, `migration ${file.version}_${file.name} up`, file.up);
      await tx`insert into schema_migrations (version, name, checksum) values (${file.version}, ${file.name}, ${file.checksum})`;
    }
    return pending.map((f) => f.version);
  });
}

/** Reverts the last `steps` applied migrations (default 1); returns the versions reverted. */
export async function migrateDown(sql: Sql, options: { dir?: string; steps?: number } = {}): Promise<number[]> {
  const files = await readMigrations(options.dir);
  const steps = options.steps ?? 1;
  return locked(sql, async (tx) => {
    const rows = await applied(tx);
    verifyChecksums(files, rows);
    const byVersion = new Map(files.map((f) => [f.version, f]));
    const toRevert = rows.slice(-steps).reverse();
    for (const row of toRevert) {
      const file = byVersion.get(row.version) as MigrationFile;
      await runScript(tx, `migration ${file.version}_${file.name} down`, file.down);
      await tx`delete from schema_migrations where version = ${row.version}`;
    }
    return toRevert.map((r) => r.version);
  });
}

export async function migrationStatus(sql: Sql, options: { dir?: string } = {}): Promise<MigrationStatus[]> {
  const files = await readMigrations(options.dir);
  const rows = await locked(sql, (tx) => applied(tx));
  const byVersion = new Map(rows.map((r) => [r.version, r]));
  return files.map((f) => {
    const row = byVersion.get(f.version);
    return { version: f.version, name: f.name, applied: row !== undefined, appliedAt: row?.applied_at ?? null };
  });
}

/**
 * Versions on disk that the database has not applied. Read-only and lock-free, for readiness
 * checks: a missing bookkeeping table means everything is pending.
 */
export async function pendingMigrations(sql: Sql, files: readonly MigrationFile[]): Promise<number[]> {
  const [exists] = await sql<{ present: boolean }[]>`select to_regclass('schema_migrations') is not null as present`;
  if (!exists?.present) return files.map((f) => f.version);
  const rows = await sql<{ version: number }[]>`select version from schema_migrations`;
  const done = new Set(rows.map((r) => r.version));
  return files.filter((f) => !done.has(f.version)).map((f) => f.version);
}
