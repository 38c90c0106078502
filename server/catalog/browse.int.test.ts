// Buyers browsing: only published events, soonest first in cursor pages, filtered by date and
// text; one event with availability; the compact seat map; conditional GETs with ETags.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '../../test/helpers/databases.ts';
import { adminTokens, organizerTokens, type Tokens } from '../../test/helpers/identity.ts';
import { call, startTestServer, type TestServer } from '../../test/helpers/server.ts';
import { daysFromNow as at, eventBody } from '../../test/helpers/catalog.ts';

interface Listed {
  id: string;
  title: string;
  startsAt: string;
}

describe('catalog: browsing', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let node: TestServer;
  let organizer: Tokens;
  const published: { id: string; slug: string; title: string }[] = [];
  let draftId: string;

  async function publishedEvent(title: string, startDays: number, seats = 0) {
    const post = (path: string, body: unknown = {}) => call<{ id: string; slug: string }>(`${node.api}${path}`, { token: organizer.accessToken, body });
    const event = (await post('/organizer/events', eventBody({ title, startsAt: at(startDays), endsAt: at(startDays + 0.2), salesEndAt: at(startDays - 0.5) }))).body;
    await post(`/organizer/events/${event.id}/ticket-types`, { name: 'GA', kind: 'general', priceMinor: 2000, currency: 'EUR', capacity: 100 });
    if (seats > 0) {
      const seated = (await post(`/organizer/events/${event.id}/ticket-types`, { name: 'Seats', kind: 'seated', priceMinor: 4000, currency: 'EUR' })).body;
      const res = await call(`${node.api}/organizer/events/${event.id}/seat-map`, {
        method: 'PUT',
        token: organizer.accessToken,
        body: { sections: [{ name: 'Main', rows: [{ label: 'A', ticketTypeId: seated.id, seats: Array.from({ length: seats }, (_, i) => String(i + 1)) }] }] },
      });
      expect(res.status).toBe(200);
    }
    expect((await post(`/organizer/events/${event.id}/publish`)).status).toBe(200);
    published.push({ id: event.id, slug: event.slug, title });
    return event;
  }

  beforeAll(async () => {
    [db, redis] = await Promise.all([createTestDatabase(), createTestRedis()]);
    node = await startTestServer(db, redis, { RATE_LIMIT_AUTH_PER_IP_PER_15_MIN: '1000', RATE_LIMIT_GLOBAL_PER_MINUTE: '100000' });
    const admin = await adminTokens(node.api, db.sql, 'browse-admin@example.com');
    organizer = await organizerTokens(node.api, db.sql, 'browse-org@example.com', admin);
    await publishedEvent('Jazz Night', 10, 12);
    await publishedEvent('Rock Festival', 20);
    await publishedEvent('Opera Gala', 30);
    await publishedEvent('Jazz Brunch', 40);
    await publishedEvent('Comedy Hour', 50);
    const draft = await call<{ id: string }>(`${node.api}/organizer/events`, { token: organizer.accessToken, body: eventBody({ title: 'Secret Draft' }) });
    draftId = draft.body.id;
  });
  afterAll(async () => {
    await node.stop();
    await Promise.all([db.drop(), redis.cleanup()]);
  });

  it('pages through published events soonest first with a cursor, drafts never shown', async () => {
    const seen: Listed[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `/events?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await call<{ items: Listed[]; nextCursor: string | null }>(`${node.api}${query}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.items);
      cursor = page.body.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen.map((e) => e.title)).toEqual(['Jazz Night', 'Rock Festival', 'Opera Gala', 'Jazz Brunch', 'Comedy Hour']);
    expect(seen.some((e) => e.id === draftId)).toBe(false);
  });

  it('filters by date window and by text', async () => {
    const window = await call<{ items: Listed[] }>(`${node.api}/events?from=${encodeURIComponent(at(15))}&to=${encodeURIComponent(at(45))}`);
    expect(window.body.items.map((e) => e.title)).toEqual(['Rock Festival', 'Opera Gala', 'Jazz Brunch']);
    const jazz = await call<{ items: Listed[] }>(`${node.api}/events?q=jazz`);
    expect(jazz.body.items.map((e) => e.title)).toEqual(['Jazz Night', 'Jazz Brunch']);
    const secret = await call<{ items: Listed[] }>(`${node.api}/events?q=secret`);
    expect(secret.body.items).toEqual([]);
  });

  it('refuses bad browse parameters with 4xx', async () => {
    for (const query of ['cursor=not-a-cursor', 'limit=0', 'limit=1000', 'from=tomorrowish', `q=${'x'.repeat(101)}`]) {
      const res = await call(`${node.api}/events?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body).toMatchObject({ error: { code: 'validation_failed' } });
    }
  });

  it('shows one event by id or slug with prices and availability; drafts are 404', async () => {
    const jazz = published[0]!;
    await db.sql`update ticket_types set sold = 30 where event_id = ${jazz.id} and name = 'GA'`;
    const byId = await call<{ title: string; ticketTypes: { name: string; priceMinor: number; available: number; onSaleNow: boolean }[] }>(`${node.api}/events/${jazz.id}`);
    expect(byId.status).toBe(200);
    expect(byId.body.ticketTypes).toEqual([
      expect.objectContaining({ name: 'GA', priceMinor: 2000, available: 70, onSaleNow: true }),
      expect.objectContaining({ name: 'Seats', priceMinor: 4000, available: 12, onSaleNow: true }),
    ]);
    const bySlug = await call(`${node.api}/events/${jazz.slug}`);
    expect(bySlug.body).toEqual(byId.body);
    expect((await call(`${node.api}/events/${draftId}`)).status).toBe(404);
    expect((await call(`${node.api}/events/no-such-event`)).status).toBe(404);
  });

  it('answers a repeated GET with 304 while nothing changed, and 200 once it did', async () => {
    const url = `${node.api}/events/${published[1]!.id}`;
    const first = await fetch(url);
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^W\/"/);
    expect(first.headers.get('cache-control')).toBe('public, max-age=5');
    const again = await fetch(url, { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    await db.sql`update ticket_types set sold = sold + 1 where event_id = ${published[1]!.id}`;
    const changed = await fetch(url, { headers: { 'if-none-match': etag! } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
  });

  it('serves the compact seat map', async () => {
    const jazz = published[0]!;
    const res = await call<{
      stateCodes: string[];
      ticketTypes: { id: string; name: string }[];
      counts: Record<string, number>;
      sections: { name: string; rows: { label: string; seats: [string, string, number, number][] }[] }[];
    }>(`${node.api}/events/${jazz.id}/seat-map`);
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBeTruthy();
    expect(res.body.stateCodes).toEqual(['free', 'held', 'sold', 'blocked']);
    expect(res.body.ticketTypes.map((t) => t.name)).toEqual(['Seats']);
    expect(res.body.counts).toEqual({ free: 12, held: 0, sold: 0, blocked: 0 });
    const row = res.body.sections[0]!.rows[0]!;
    expect(row.label).toBe('A');
    expect(row.seats).toHaveLength(12);
    expect(row.seats[0]).toEqual([expect.stringMatching(/^\d+$/), '1', 0, 0]);
    expect((await call(`${node.api}/events/${draftId}/seat-map`)).status).toBe(404);
    expect((await call(`${node.api}/events/not-a-uuid/seat-map`)).status).toBe(400);
  });
});
