// Issuing tickets under a burst of confirmations at the first tickets of a sale, when the event's
// signing key is not loaded yet: with a small pool, every connection but one can be queued behind
// the hot ticket-type row, so the transaction holding that row must not need another connection
// (it once signed codes inside, reading the key through the pool: a deadlock, found by the on-sale
// load test). And Redis's fence in front of it: a seat that came free past the grace and was taken
// is refused although the hold's record is still there.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, createTestRedis, type TestDatabase } from '../../test/helpers/databases.ts';
import { createInventory, type Inventory } from '../inventory/index.ts';
import { createTicketSigner } from '../scanning/index.ts';
import { createPostgres, type Sql } from '../store/index.ts';
import { issueTickets } from './issue-tickets.ts';

/** Redis's side, settled: every hold is live and converts (this test is about Postgres). */
const inventory = {
  holdStatus: () => Promise.resolve('live'),
  seatOwners: () => Promise.resolve([]),
  convert: () => Promise.resolve('converted'),
} as unknown as Inventory;

describe('issueTickets', () => {
  let db: TestDatabase;
  let sql: Sql;

  beforeAll(async () => {
    db = await createTestDatabase();
    sql = createPostgres({ url: db.url, poolMax: 2, applicationName: 'boxoffice-test' });
  });
  afterAll(async () => {
    await sql.end({ timeout: 5 });
    await db.drop();
  });

  it('issues a burst of first tickets over a two-connection pool without deadlocking', async () => {
    const [user] = await sql<{ id: string }[]>`insert into users (email, role, email_verified_at) values (${`i-${randomUUID()}@example.com`}, 'organizer', now()) returning id`;
    const [event] = await sql<{ id: string }[]>`
      insert into events (organizer_id, slug, title, timezone, starts_at, ends_at, sales_start_at, sales_end_at, status, published_at)
      values (${user!.id}, ${`issue-${randomUUID().slice(0, 8)}`}, 'Burst', 'UTC', now() + interval '10 days', now() + interval '11 days',
              now() - interval '1 hour', now() + interval '9 days', 'published', now()) returning id`;
    const [type] = await sql<{ id: string }[]>`
      insert into ticket_types (event_id, name, kind, price_minor, currency, capacity) values (${event!.id}, 'Standing', 'general', 1000, 'EUR', 10) returning id`;
    const purchaseIds = Array.from({ length: 6 }, () => randomUUID());
    for (const id of purchaseIds) {
      await sql`
        insert into purchases (id, event_id, customer_id, state, snapshot, version, amount_minor, currency, idempotency_key, request_hash)
        values (${id}, ${event!.id}, ${user!.id}, 'confirming', '{}'::jsonb, 1, 1000, 'EUR', ${randomUUID()}, 'test')`;
    }
    // A fresh signer: the event's key is read (created) by the first code signed.
    const signer = createTicketSigner(sql, 'issue-tickets-test-secret-0123456789abcdef');
    const issuing = Promise.all(
      purchaseIds.map((purchaseId) =>
        issueTickets(sql, inventory, { purchaseId, eventId: event!.id, holdToken: '1', items: [{ ticketTypeId: type!.id, quantity: 1 }] }, (facts) => signer.codeFor(facts)),
      ),
    );
    const outcome = await Promise.race([issuing, new Promise<'deadlocked'>((resolve) => setTimeout(() => resolve('deadlocked'), 10_000).unref())]);
    expect(outcome).toEqual(purchaseIds.map(() => ({ type: 'tickets.issued' })));
    const [sold] = await sql<{ sold: number; tickets: number }[]>`
      select sold, (select count(*)::int from tickets where ticket_type_id = ${type!.id}) as tickets from ticket_types where id = ${type!.id}`;
    expect(sold).toEqual({ sold: 6, tickets: 6 });
  });

  it('refuses a seat that came free past the grace and was taken, although the hold record waits for a late release', async () => {
    const redis = await createTestRedis();
    try {
      const real = createInventory(redis.client, redis.prefix);
      const [user] = await sql<{ id: string }[]>`insert into users (email, role, email_verified_at) values (${`i-${randomUUID()}@example.com`}, 'organizer', now()) returning id`;
      const [event] = await sql<{ id: string }[]>`
        insert into events (organizer_id, slug, title, timezone, starts_at, ends_at, sales_start_at, sales_end_at, status, published_at)
        values (${user!.id}, ${`seat-${randomUUID().slice(0, 8)}`}, 'Seats', 'UTC', now() + interval '10 days', now() + interval '11 days',
                now() - interval '1 hour', now() + interval '9 days', 'published', now()) returning id`;
      const [type] = await sql<{ id: string }[]>`
        insert into ticket_types (event_id, name, kind, price_minor, currency, capacity) values (${event!.id}, 'Seated', 'seated', 1000, 'EUR', 2) returning id`;
      const [eventId, seated, purchaseId, other] = [event!.id, type!.id, randomUUID(), randomUUID()];
      await sql`
        insert into purchases (id, event_id, customer_id, state, snapshot, version, amount_minor, currency, idempotency_key, request_hash)
        values (${purchaseId}, ${eventId}, ${user!.id}, 'confirming', '{}'::jsonb, 1, 1000, 'EUR', ${randomUUID()}, 'test')`;
      await real.setAvailable(eventId, { [seated]: 2 });
      const items = [{ ticketTypeId: seated, quantity: 1, seatIds: ['71'] }];
      const held = await real.hold({ purchaseId, eventId, items, deadline: new Date(Date.now() + 50), graceMs: 100 });
      if (!held.ok) throw new Error('expected a hold');
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect((await real.hold({ purchaseId: other, eventId, items, deadline: new Date(Date.now() + 60_000), graceMs: 1_000 })).ok).toBe(true);
      // The payment lands before the (late) expiry: the record is live, the seat is someone else's.
      expect(await real.holdStatus(eventId, purchaseId, held.token)).toBe('live');
      expect(await issueTickets(sql, real, { purchaseId, eventId, holdToken: held.token, items })).toEqual({ type: 'tickets.failed', reason: 'hold_lost' });
      expect(await real.seatOwners(eventId, ['71'])).toEqual([other]);
      expect(await sql`select 1 from tickets where purchase_id = ${purchaseId}`).toHaveLength(0);
    } finally {
      await redis.cleanup();
    }
  });
});
