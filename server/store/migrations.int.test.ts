// The migration runner against real PostgreSQL: up, all the way down and up again gives the same
// schema; two nodes migrating at once apply each migration once; edits and broken files are
// caught; and the constraints the schema promises hold.
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresBinDir } from '../local/index.ts';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/databases.ts';
import { createPostgres } from './postgres.ts';
import {
  DEFAULT_MIGRATIONS_DIR,
  MigrationError,
  migrateDown,
  migrateUp,
  migrationStatus,
  pendingMigrations,
  readMigrations,
} from './migrations.ts';

const run = promisify(execFile);

async function schemaDump(url: string): Promise<string> {
  const { stdout } = await run(join(await postgresBinDir(), 'pg_dump'), ['--schema-only', '--no-owner', '--no-privileges', `--dbname=${url}`]);
  // Drop comments and session settings that can differ between two dumps of the same schema.
  return stdout
    .split('\n')
    .filter((line) => !line.startsWith('--') && !line.startsWith('\\restrict') && !line.startsWith('\\unrestrict'))
    .join('\n');
}

async function userTables(db: TestDatabase): Promise<string[]> {
  const rows = await db.sql<{ table_name: string }[]>`
    select table_name from information_schema.tables where table_schema = 'public' order by table_name`;
  return rows.map((r) => r.table_name);
}

describe('migrations', () => {
  let db: TestDatabase;
  let copyDir: string;

  beforeAll(async () => {
    db = await createTestDatabase({ migrated: false });
    copyDir = await mkdtemp(join(tmpdir(), 'boxoffice-migrations-'));
  });
  afterAll(async () => {
    await db.drop();
    await rm(copyDir, { recursive: true, force: true });
  });

  it('go up, all the way down, and up again to the identical schema', async () => {
    const files = await readMigrations();
    expect(files.length).toBeGreaterThanOrEqual(3);
    expect(await pendingMigrations(db.sql, files)).toEqual(files.map((f) => f.version));

    expect(await migrateUp(db.sql)).toEqual(files.map((f) => f.version));
    expect(await migrateUp(db.sql)).toEqual([]);
    expect((await migrationStatus(db.sql)).every((m) => m.applied && m.appliedAt instanceof Date)).toBe(true);
    expect(await pendingMigrations(db.sql, files)).toEqual([]);
    const first = await schemaDump(db.url);
    expect(first).toContain('CREATE TABLE public.events');

    const reverted = await migrateDown(db.sql, { steps: files.length });
    expect(reverted).toEqual(files.map((f) => f.version).reverse());
    expect(await userTables(db)).toEqual(['schema_migrations']);
    const [fn] = await db.sql`select 1 from pg_proc where proname = 'boxoffice_refuse_change'`;
    expect(fn).toBeUndefined();

    await migrateUp(db.sql);
    expect(await schemaDump(db.url)).toEqual(first);
  });

  it('stop at a target going up, and revert one step by default going down', async () => {
    await migrateDown(db.sql, { steps: 100 });
    expect(await migrateUp(db.sql, { target: 1 })).toEqual([1]);
    expect((await migrationStatus(db.sql)).filter((m) => m.applied).map((m) => m.version)).toEqual([1]);
    await migrateUp(db.sql);
    const last = (await readMigrations()).at(-1)!.version;
    expect(await migrateDown(db.sql)).toEqual([last]);
    await migrateUp(db.sql);
  });

  it('apply each migration exactly once when two nodes start at the same time', async () => {
    const fresh = await createTestDatabase({ migrated: false });
    const nodeA = createPostgres({ url: fresh.url, poolMax: 2 });
    const nodeB = createPostgres({ url: fresh.url, poolMax: 2 });
    try {
      const [a, b] = await Promise.all([migrateUp(nodeA), migrateUp(nodeB)]);
      const all = (await readMigrations()).map((f) => f.version);
      expect([...a, ...b].sort()).toEqual(all);
      const rows = await fresh.sql<{ version: number }[]>`select version from schema_migrations order by version`;
      expect(rows.map((r) => r.version)).toEqual(all);
    } finally {
      await Promise.all([nodeA.end(), nodeB.end()]);
      await fresh.drop();
    }
  });

  it('refuse a migration edited after it was applied', async () => {
    const fresh = await createTestDatabase({ migrated: false });
    const dir = join(copyDir, 'edited');
    try {
      await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
      await migrateUp(fresh.sql, { dir });
      await writeFile(join(dir, '0001_identity.up.sql'), '-- quietly changed\nselect 1;\n');
      await expect(migrateUp(fresh.sql, { dir })).rejects.toThrow(MigrationError);
      await expect(migrateUp(fresh.sql, { dir })).rejects.toThrow(/edited after it was applied/);
      await expect(migrateDown(fresh.sql, { dir })).rejects.toThrow(/edited/);
    } finally {
      await fresh.drop();
    }
  });

  it('roll back the whole run when one migration fails', async () => {
    const fresh = await createTestDatabase({ migrated: false });
    const dir = join(copyDir, 'broken');
    try {
      await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
      await writeFile(join(dir, '9999_broken.up.sql'), 'create table fine (id int);\ncreate tabel oops;\n');
      await writeFile(join(dir, '9999_broken.down.sql'), 'drop table fine;\n');
      await expect(migrateUp(fresh.sql, { dir })).rejects.toThrow(/9999_broken up failed/);
      // Nothing from that run stayed: not the valid migrations before it, not half of the broken one
      // (not even the bookkeeping table the run created).
      expect(await userTables(fresh)).toEqual([]);
      const all = await readMigrations(dir);
      expect(await pendingMigrations(fresh.sql, all)).toEqual(all.map((f) => f.version));
    } finally {
      await fresh.drop();
    }
  });

  it('need both an up and a down file', async () => {
    const dir = join(copyDir, 'lonely');
    await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
    await writeFile(join(dir, '0099_lonely.up.sql'), 'select 1;\n');
    await expect(readMigrations(dir)).rejects.toThrow(/needs both an up and a down/);
  });
});

describe('schema constraints', () => {
  let db: TestDatabase;
  let organizerId: string;
  let eventId: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    const [user] = await db.sql<{ id: string }[]>`insert into users (email, role) values ('org@example.com', 'organizer') returning id`;
    organizerId = user!.id;
    const [event] = await db.sql<{ id: string }[]>`
      insert into events (organizer_id, slug, title, timezone, starts_at, ends_at, sales_start_at, sales_end_at)
      values (${organizerId}, 'constraints', 'Constraints', 'UTC', now() + interval '2 days', now() + interval '3 days', now(), now() + interval '1 day')
      returning id`;
    eventId = event!.id;
  });
  afterAll(async () => {
    await db.drop();
  });

  const ticketType = (price: number, capacity: number, sold: number, name: string) =>
    db.sql`insert into ticket_types (event_id, name, kind, price_minor, currency, capacity, sold)
           values (${eventId}, ${name}, 'general', ${price}, 'EUR', ${capacity}, ${sold})`;

  it('refuse negative prices and more sold than capacity', async () => {
    await expect(ticketType(-1, 10, 0, 'negative')).rejects.toThrow(/check constraint/);
    await expect(ticketType(100, 10, 11, 'oversold')).rejects.toThrow(/check constraint/);
    await expect(ticketType(100, 10, 10, 'full')).resolves.toBeDefined();
  });

  it('refuse percent discounts of 0 or over 100 and mixed discount kinds', async () => {
    const promo = (code: string, percent: number | null, amount: number | null, kind: string) =>
      db.sql`insert into promo_codes (event_id, code, discount_kind, percent_off, amount_off_minor)
             values (${eventId}, ${code}, ${kind}, ${percent}, ${amount})`;
    await expect(promo('ZERO', 0, null, 'percent')).rejects.toThrow(/check constraint/);
    await expect(promo('OVER', 101, null, 'percent')).rejects.toThrow(/check constraint/);
    await expect(promo('MIXED', 10, 500, 'percent')).rejects.toThrow(/check constraint/);
    await expect(promo('HALF', 50, null, 'percent')).resolves.toBeDefined();
  });

  it('refuse duplicate seat labels within an event', async () => {
    const [tt] = await db.sql<{ id: string }[]>`
      insert into ticket_types (event_id, name, kind, price_minor, currency, capacity) values (${eventId}, 'Seats', 'seated', 100, 'EUR', 2)
      returning id`;
    const seat = () => db.sql`insert into seats (event_id, ticket_type_id, section, row_label, seat_number) values (${eventId}, ${tt!.id}, 'A', '1', '1')`;
    await seat();
    await expect(seat()).rejects.toThrow(/duplicate key/);
  });

  it('refuse inverted event dates', async () => {
    await expect(
      db.sql`insert into events (organizer_id, slug, title, timezone, starts_at, ends_at, sales_start_at, sales_end_at)
             values (${organizerId}, 'inverted', 'Inverted', 'UTC', now() + interval '3 days', now() + interval '2 days', now(), now() + interval '1 day')`,
    ).rejects.toThrow(/check constraint/);
  });

  it('keep the audit log append-only', async () => {
    await db.sql`insert into audit_log (action, actor_kind) values ('test.audit.written', 'system')`;
    await expect(db.sql`update audit_log set reason = 'changed'`).rejects.toThrow(/append-only/);
    await expect(db.sql`delete from audit_log`).rejects.toThrow(/append-only/);
    const [count] = await db.sql<{ n: number }[]>`select count(*)::int as n from audit_log`;
    expect(count?.n).toBe(1);
  });
});
