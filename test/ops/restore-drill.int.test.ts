// The restore drill: a database with sales in it is backed up with `npm run backup`, restored with
// `npm run restore` into a fresh database, and the copy must match: the same rows in every table,
// the same checksum over the sales tables, and the retention setting keeps only the newest dumps.
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupDatabase } from '../../server/ops/backup.ts';
import type { Sql } from '../../server/store/index.ts';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '../helpers/databases.ts';
import { spawnScript } from '../helpers/processes.ts';
import { buy, people, saleEvent, settled } from '../helpers/purchases.ts';
import { call, startTestServer } from '../helpers/server.ts';

async function fingerprint(sql: Sql) {
  const tables = await sql<{ name: string }[]>`select tablename as name from pg_tables where schemaname = 'public' order by tablename`;
  const counts: Record<string, number> = {};
  for (const { name } of tables) {
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from ${sql(name)}`;
    counts[name] = row!.n;
  }
  const [sums] = await sql<{ tickets: string; purchases: string; transitions: string; types: string }[]>`
    select
      (select md5(coalesce(string_agg(id::text || code || status || coalesce(seat_id::text, ''), ',' order by id), '')) from tickets) as tickets,
      (select md5(coalesce(string_agg(id::text || state || amount_minor::text || version::text, ',' order by id), '')) from purchases) as purchases,
      (select md5(coalesce(string_agg(purchase_id::text || seq::text || to_state, ',' order by purchase_id, seq), '')) from purchase_transitions) as transitions,
      (select md5(coalesce(string_agg(id::text || sold::text || capacity::text, ',' order by id), '')) from ticket_types) as types`;
  return { counts, sums };
}

describe('backup and restore', () => {
  let source: TestDatabase;
  let copy: TestDatabase;
  let redis: TestRedis;

  beforeAll(async () => {
    [source, copy, redis] = await Promise.all([createTestDatabase(), createTestDatabase({ migrated: false }), createTestRedis()]);
    const node = await startTestServer(source, redis);
    try {
      const [organizers, buyers] = await Promise.all([people(source.sql, 1, 'organizer'), people(source.sql, 3)]);
      const organizer = organizers[0]!;
      const sale = await saleEvent(source.sql, organizer.id, { capacity: 20, seats: 10 });
      for (const [i, buyer] of buyers.entries()) {
        const res = await buy(node.api, buyer, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ga, quantity: 2 }, { ticketTypeId: sale.seated, seatIds: [sale.seatIds[i]!] }] });
        if (i < 2) await call(`${node.api}/sandbox/payments/${(res.body['payment'] as { paymentId: string }).paymentId}/succeed`, { token: buyer.token, body: {} });
        await settled(source.sql, res.body.id, i < 2 ? ['confirmed'] : ['paying']);
      }
    } finally {
      await node.stop();
    }
  }, 60_000);
  afterAll(async () => {
    await Promise.all([source?.drop(), copy?.drop(), redis?.cleanup()]);
  });

  it('restores a backup into a fresh database with the same rows and the same sales checksums', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'boxoffice-backups-'));
    const backup = spawnScript('server/cli/backup.ts', ['--dir', dir, '--keep', '2'], { DATABASE_URL: source.url });
    expect(await backup.exit, backup.output()).toBe(0);
    const [dump] = readdirSync(dir);
    expect(dump).toMatch(/^boxoffice-.*\.dump$/);

    const restore = spawnScript('server/cli/restore.ts', [join(dir, dump!)], { DATABASE_URL: copy.url });
    expect(await restore.exit, restore.output()).toBe(0);
    const [original, restored] = await Promise.all([fingerprint(source.sql), fingerprint(copy.sql)]);
    expect(restored.counts['tickets']).toBe(6);
    expect(restored.counts['purchases']).toBe(3);
    expect(restored).toEqual(original);

    // Retention: with --keep 2, a third backup removes the oldest.
    for (const minute of [1, 2]) await backupDatabase({ url: source.url, dir, keep: 2, now: new Date(Date.now() + minute * 60_000) });
    const kept = readdirSync(dir).sort();
    expect(kept).toHaveLength(2);
    expect(kept).not.toContain(dump);
    const missing = spawnScript('server/cli/restore.ts', [join(dir, 'nope.dump')], { DATABASE_URL: copy.url });
    expect(await missing.exit).toBe(2);
  }, 60_000);
});
