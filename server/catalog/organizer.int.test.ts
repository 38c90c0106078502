// Organizers managing their events over real HTTP and Postgres: every rule that protects sales,
// every bad input answered with a 4xx naming the field, and nothing changed by a refused request.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '../../test/helpers/databases.ts';
import { adminTokens, organizerTokens, type Tokens } from '../../test/helpers/identity.ts';
import { daysFromNow, eventBody } from '../../test/helpers/catalog.ts';
import { call, startTestServer, type TestServer } from '../../test/helpers/server.ts';

const at = daysFromNow;

interface Event {
  id: string;
  status: string;
  slug: string;
  title: string;
  description: string;
}
interface TicketType {
  id: string;
  capacity: number;
  priceMinor: number;
  status: string;
}
interface ErrorBody {
  error: { code: string; message: string; details?: { issues?: { path: string }[] } };
}

describe('catalog: organizers', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let node: TestServer;
  let admin: Tokens;
  let owner: Tokens;
  let rival: Tokens;

  beforeAll(async () => {
    [db, redis] = await Promise.all([createTestDatabase(), createTestRedis()]);
    node = await startTestServer(db, redis, { RATE_LIMIT_AUTH_PER_IP_PER_15_MIN: '1000', RATE_LIMIT_GLOBAL_PER_MINUTE: '100000' });
    admin = await adminTokens(node.api, db.sql, 'cat-admin@example.com');
    owner = await organizerTokens(node.api, db.sql, 'cat-owner@example.com', admin);
    rival = await organizerTokens(node.api, db.sql, 'cat-rival@example.com', admin);
  });
  afterAll(async () => {
    await node.stop();
    await Promise.all([db.drop(), redis.cleanup()]);
  });

  const as = (who: Tokens) => ({
    get: <T = Record<string, unknown>>(path: string) => call<T>(`${node.api}${path}`, { token: who.accessToken }),
    post: <T = Record<string, unknown>>(path: string, body: unknown = {}) => call<T>(`${node.api}${path}`, { token: who.accessToken, body }),
    patch: <T = Record<string, unknown>>(path: string, body: unknown) => call<T>(`${node.api}${path}`, { method: 'PATCH', token: who.accessToken, body }),
    put: <T = Record<string, unknown>>(path: string, body: unknown) => call<T>(`${node.api}${path}`, { method: 'PUT', token: who.accessToken, body }),
    del: <T = Record<string, unknown>>(path: string) => call<T>(`${node.api}${path}`, { method: 'DELETE', token: who.accessToken }),
  });

  async function newEvent(overrides: Record<string, unknown> = {}): Promise<Event> {
    const res = await as(owner).post<Event>('/organizer/events', eventBody(overrides));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  }

  async function tableCounts(): Promise<Record<string, number>> {
    const [row] = await db.sql<Record<string, number>[]>`
      select (select count(*)::int from events) as events, (select count(*)::int from ticket_types) as ticket_types,
             (select count(*)::int from seats) as seats, (select count(*)::int from promo_codes) as promo_codes`;
    return row!;
  }

  function expectRefused(res: { status: number; body: unknown }, status: number, field?: string): void {
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    const body = res.body as ErrorBody;
    expect(typeof body.error.code).toBe('string');
    if (field) expect(JSON.stringify(body.error)).toContain(field);
  }

  it('creates a draft event, lists and updates it', async () => {
    const event = await newEvent();
    expect(event).toMatchObject({ status: 'draft', title: 'Spring Concert' });
    expect(event.slug).toMatch(/^spring-concert-[0-9a-f]{6}$/);
    const mine = await as(owner).get<{ items: Event[] }>('/organizer/events');
    expect(mine.body.items.map((e) => e.id)).toContain(event.id);
    const described = await as(owner).patch<Event>(`/organizer/events/${event.id}`, { description: 'Strings and brass' });
    expect(described.status).toBe(200);
    const changed = await as(owner).patch<Event>(`/organizer/events/${event.id}`, { title: 'Spring Gala' });
    expect(changed.status).toBe(200);
    expect(changed.body.title).toBe('Spring Gala');
    // A field the patch leaves out stays as it was.
    expect(changed.body.description).toBe('Strings and brass');
  });

  it('refuses bad event input with the field named, and creates nothing', async () => {
    const before = await tableCounts();
    const cases: [Record<string, unknown>, string][] = [
      [{ endsAt: at(29) }, 'endsAt'],
      [{ salesEndAt: at(-2) }, 'salesEndAt'],
      [{ salesEndAt: at(31) }, 'salesEndAt'],
      [{ timezone: 'Mars/Olympus' }, 'timezone'],
      [{ title: 'x'.repeat(201) }, 'title'],
      [{ title: '' }, 'title'],
      [{ description: 'x'.repeat(10_001) }, 'description'],
      [{ slug: 'Not A Slug' }, 'slug'],
      [{ startsAt: 'yesterday-ish' }, 'startsAt'],
      [{ organizerId: rival.user.id }, 'organizerId'],
    ];
    for (const [overrides, field] of cases) {
      expectRefused(await as(owner).post('/organizer/events', eventBody(overrides)), 400, field);
    }
    expect(await tableCounts()).toEqual(before);
  });

  it('an organizer cannot see or touch another organizer\'s event (404), an admin can', async () => {
    const event = await newEvent();
    const paths: [string, string, unknown?][] = [
      ['get', `/organizer/events/${event.id}`],
      ['patch', `/organizer/events/${event.id}`, { title: 'Mine now' }],
      ['post', `/organizer/events/${event.id}/publish`],
      ['post', `/organizer/events/${event.id}/cancel`],
      ['post', `/organizer/events/${event.id}/ticket-types`, { name: 'Hijack', kind: 'general', priceMinor: 1, currency: 'EUR', capacity: 1 }],
      ['post', `/organizer/events/${event.id}/promo-codes`, { code: 'STEAL', percentOff: 100 }],
      ['get', `/organizer/events/${event.id}/promo-codes`],
    ];
    for (const [method, path, body] of paths) {
      const client = as(rival) as unknown as Record<string, (p: string, b?: unknown) => Promise<{ status: number; body: unknown }>>;
      expectRefused(await client[method]!(path, body), 404);
    }
    const [row] = await db.sql<{ title: string; status: string }[]>`select title, status from events where id = ${event.id}`;
    expect(row).toEqual({ title: 'Spring Concert', status: 'draft' });
    expect((await as(admin).get(`/organizer/events/${event.id}`)).status).toBe(200);
  });

  it('ticket types: good input, then every bad input refused with the field named', async () => {
    const event = await newEvent();
    const base = { name: 'Standing', kind: 'general', priceMinor: 3500, currency: 'EUR', capacity: 200 };
    const created = await as(owner).post<TicketType>(`/organizer/events/${event.id}/ticket-types`, base);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ capacity: 200, priceMinor: 3500, status: 'on_sale' });

    const before = await tableCounts();
    const cases: [Record<string, unknown>, string, number][] = [
      [{ name: 'Neg', priceMinor: -1 }, 'priceMinor', 400],
      [{ name: 'Frac', priceMinor: 10.5 }, 'priceMinor', 400],
      [{ name: 'Cur', currency: 'XYZ' }, 'currency', 400],
      [{ name: 'Lower', currency: 'eur' }, 'currency', 400],
      [{ name: 'Other currency', currency: 'USD' }, 'currency', 400],
      [{ name: 'NoCap', capacity: undefined }, 'capacity', 400],
      [{ name: 'Seated cap', kind: 'seated' }, 'capacity', 400],
      [{ name: 'Max', perOrderMax: 0 }, 'perOrderMax', 400],
      [{ name: 'Window', salesStartAt: at(5), salesEndAt: at(4) }, 'salesEndAt', 400],
      [{ name: 'Late', salesEndAt: at(29.5) }, 'salesEndAt', 400],
      [{ name: 'x'.repeat(101) }, 'name', 400],
      [{ name: 'Standing' }, 'name', 409],
    ];
    for (const [overrides, field, status] of cases) {
      expectRefused(await as(owner).post(`/organizer/events/${event.id}/ticket-types`, { ...base, ...overrides }), status, field);
    }
    expect(await tableCounts()).toEqual(before);
  });

  it('capacity never goes below what is sold; a type with sales is closed, not deleted', async () => {
    const event = await newEvent();
    const type = (await as(owner).post<TicketType>(`/organizer/events/${event.id}/ticket-types`, {
      name: 'GA',
      kind: 'general',
      priceMinor: 1000,
      currency: 'EUR',
      capacity: 100,
    })).body;
    await db.sql`update ticket_types set sold = 40 where id = ${type.id}`;

    expectRefused(await as(owner).patch(`/organizer/events/${event.id}/ticket-types/${type.id}`, { capacity: 39 }), 409);
    expect((await as(owner).patch<TicketType>(`/organizer/events/${event.id}/ticket-types/${type.id}`, { capacity: 40 })).body.capacity).toBe(40);
    expectRefused(await as(owner).del(`/organizer/events/${event.id}/ticket-types/${type.id}`), 409);
    const closed = await as(owner).post<TicketType>(`/organizer/events/${event.id}/ticket-types/${type.id}/close`);
    expect(closed.body.status).toBe('closed');
    // The database refuses it too, whatever the application does.
    await expect(db.sql`update ticket_types set capacity = 10 where id = ${type.id}`).rejects.toThrow(/check constraint/);

    // A price change leaves what was sold alone (sold stays; purchases keep their own price).
    const repriced = await as(owner).patch<TicketType & { sold: number }>(`/organizer/events/${event.id}/ticket-types/${type.id}`, { priceMinor: 1500 });
    expect(repriced.body).toMatchObject({ priceMinor: 1500, sold: 40 });

    // A type without sales can be deleted.
    const spare = (await as(owner).post<TicketType>(`/organizer/events/${event.id}/ticket-types`, {
      name: 'Spare',
      kind: 'general',
      priceMinor: 1000,
      currency: 'EUR',
      capacity: 5,
    })).body;
    expect((await as(owner).del(`/organizer/events/${event.id}/ticket-types/${spare.id}`)).status).toBe(204);
  });

  it('publishing needs ticket types and seats for seated types; cancelling stops all sales', async () => {
    const event = await newEvent();
    expectRefused(await as(owner).post(`/organizer/events/${event.id}/publish`), 409);
    const seated = (await as(owner).post<TicketType>(`/organizer/events/${event.id}/ticket-types`, {
      name: 'Stalls',
      kind: 'seated',
      priceMinor: 5000,
      currency: 'EUR',
    })).body;
    expectRefused(await as(owner).post(`/organizer/events/${event.id}/publish`), 409);
    const map = { sections: [{ name: 'Stalls', rows: [{ label: 'A', ticketTypeId: seated.id, seats: ['1', '2', '3'] }] }] };
    expect((await as(owner).put(`/organizer/events/${event.id}/seat-map`, map)).status).toBe(200);
    const published = await as(owner).post<Event>(`/organizer/events/${event.id}/publish`);
    expect(published.body.status).toBe('published');

    const cancelled = await as(owner).post<Event>(`/organizer/events/${event.id}/cancel`, { reason: 'artist ill' });
    expect(cancelled.body.status).toBe('cancelled');
    const [state] = await db.sql<{ open: number }[]>`select count(*)::int as open from ticket_types where event_id = ${event.id} and status = 'on_sale'`;
    expect(state?.open).toBe(0);
    expectRefused(await as(owner).post(`/organizer/events/${event.id}/ticket-types/${seated.id}/reopen`), 409);
    expectRefused(await as(owner).patch(`/organizer/events/${event.id}`, { title: 'Back on' }), 409);
    const audit = await db.sql<{ action: string; reason: string | null }[]>`
      select action, reason from audit_log where subject_id = ${event.id} order by id`;
    expect(audit).toEqual([
      { action: 'catalog.event.published', reason: null },
      { action: 'catalog.event.cancelled', reason: 'artist ill' },
    ]);
  });

  describe('seat maps', () => {
    let event: Event;
    let stalls: TicketType;
    let balcony: TicketType;
    let general: TicketType;

    beforeAll(async () => {
      event = await newEvent();
      const make = async (name: string, kind: string) =>
        (await as(owner).post<TicketType>(`/organizer/events/${event.id}/ticket-types`, {
          name,
          kind,
          priceMinor: 2000,
          currency: 'EUR',
          ...(kind === 'general' ? { capacity: 10 } : {}),
        })).body;
      stalls = await make('Stalls', 'seated');
      balcony = await make('Balcony', 'seated');
      general = await make('Floor', 'general');
    });

    it('imports a map, binds each seat to its type, and sets seated capacities', async () => {
      const res = await as(owner).put<{ seats: number; seatsByTicketType: Record<string, number> }>(`/organizer/events/${event.id}/seat-map`, {
        sections: [
          { name: 'Stalls', rows: [{ label: 'A', ticketTypeId: stalls.id, seats: ['1', '2', { number: '3', x: 3, y: 1 }] }, { label: 'B', ticketTypeId: stalls.id, seats: ['1', '2'] }] },
          { name: 'Balcony', rows: [{ label: 'A', seats: [{ number: '1', ticketTypeId: balcony.id }] }] },
        ],
      });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.seats).toBe(6);
      expect(res.body.seatsByTicketType).toEqual({ [stalls.id]: 5, [balcony.id]: 1 });
      const [capacity] = await db.sql<{ capacity: number }[]>`select capacity from ticket_types where id = ${stalls.id}`;
      expect(capacity?.capacity).toBe(5);
    });

    it('refuses duplicates, foreign or general types, missing types and oversize maps, leaving the old map whole', async () => {
      const before = await db.sql<{ id: string }[]>`select id from seats where event_id = ${event.id} order by id`;
      const other = await newEvent();
      const otherType = (await as(owner).post<TicketType>(`/organizer/events/${other.id}/ticket-types`, { name: 'X', kind: 'seated', priceMinor: 1, currency: 'EUR' })).body;
      const bad: [unknown, string, number][] = [
        [{ sections: [{ name: 'S', rows: [{ label: 'A', ticketTypeId: stalls.id, seats: ['1', '1'] }] }] }, 'appears twice', 400],
        [{ sections: [{ name: 'S', rows: [{ label: 'A', ticketTypeId: otherType.id, seats: ['1'] }] }] }, 'not a seated type of this event', 400],
        [{ sections: [{ name: 'S', rows: [{ label: 'A', ticketTypeId: general.id, seats: ['1'] }] }] }, 'not a seated type of this event', 400],
        [{ sections: [{ name: 'S', rows: [{ label: 'A', seats: ['1'] }] }] }, 'no ticketTypeId', 400],
        [{ sections: [] }, 'sections', 400],
        [{ sections: [{ name: 'S', rows: [{ label: 'x'.repeat(11), ticketTypeId: stalls.id, seats: ['1'] }] }] }, 'label', 400],
        [
          {
            sections: Array.from({ length: 11 }, (_, s) => ({
              name: `S${s}`,
              rows: Array.from({ length: 10 }, (_, r) => ({ label: `R${r}`, ticketTypeId: stalls.id, seats: Array.from({ length: 1000 }, (_, n) => String(n)) })),
            })),
          },
          'at most 100000 seats',
          400,
        ],
      ];
      for (const [body, text, status] of bad) {
        const res = await as(owner).put(`/organizer/events/${event.id}/seat-map`, body);
        expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(status);
        expect(JSON.stringify(res.body)).toContain(text);
      }
      const after = await db.sql<{ id: string }[]>`select id from seats where event_id = ${event.id} order by id`;
      expect(after).toEqual(before);
    });

    it('cannot be replaced once a seat is sold', async () => {
      await db.sql`update ticket_types set sold = 1 where id = ${stalls.id}`;
      const res = await as(owner).put(`/organizer/events/${event.id}/seat-map`, {
        sections: [{ name: 'New', rows: [{ label: 'A', ticketTypeId: stalls.id, seats: ['1'] }] }],
      });
      expectRefused(res, 409);
      await db.sql`update ticket_types set sold = 0 where id = ${stalls.id}`;
    });
  });

  describe('promo codes', () => {
    let event: Event;
    let cheap: TicketType;
    let dear: TicketType;

    beforeAll(async () => {
      event = await newEvent();
      const make = async (name: string, priceMinor: number) =>
        (await as(owner).post<TicketType>(`/organizer/events/${event.id}/ticket-types`, { name, kind: 'general', priceMinor, currency: 'EUR', capacity: 10 })).body;
      cheap = await make('Cheap', 1000);
      dear = await make('Dear', 5000);
    });

    it('creates percent and fixed codes, scoped or not', async () => {
      const pct = await as(owner).post(`/organizer/events/${event.id}/promo-codes`, { code: 'early20', percentOff: 20, maxUses: 100, perCustomerLimit: 2 });
      expect(pct.status, JSON.stringify(pct.body)).toBe(201);
      expect(pct.body).toMatchObject({ code: 'EARLY20', discountKind: 'percent', percentOff: 20, uses: 0, ticketTypeIds: [] });
      const fixed = await as(owner).post(`/organizer/events/${event.id}/promo-codes`, { code: 'DEAR-OFF', amountOffMinor: 3000, ticketTypeIds: [dear.id] });
      expect(fixed.status, JSON.stringify(fixed.body)).toBe(201);
      expect(fixed.body).toMatchObject({ discountKind: 'fixed', amountOffMinor: 3000, ticketTypeIds: [dear.id] });
      const list = await as(owner).get<{ items: unknown[] }>(`/organizer/events/${event.id}/promo-codes`);
      expect(list.body.items).toHaveLength(2);
    });

    it('refuses percent 0 or over 100, fixed above the price, both or neither, bad windows and foreign types', async () => {
      const other = await newEvent();
      const foreign = (await as(owner).post<TicketType>(`/organizer/events/${other.id}/ticket-types`, { name: 'F', kind: 'general', priceMinor: 100, currency: 'EUR', capacity: 1 })).body;
      const before = await tableCounts();
      const cases: [Record<string, unknown>, string, number][] = [
        [{ code: 'ZERO', percentOff: 0 }, 'percentOff', 400],
        [{ code: 'OVER', percentOff: 101 }, 'percentOff', 400],
        [{ code: 'FIXED', amountOffMinor: 1001 }, 'amountOffMinor', 400],
        [{ code: 'FIXED2', amountOffMinor: 1001, ticketTypeIds: [cheap.id] }, 'amountOffMinor', 400],
        [{ code: 'BOTH', percentOff: 10, amountOffMinor: 100 }, 'percentOff', 400],
        [{ code: 'NONE' }, 'percentOff', 400],
        [{ code: 'WIN', percentOff: 10, validFrom: at(3), validUntil: at(2) }, 'validUntil', 400],
        [{ code: 'AFTER', percentOff: 10, validUntil: at(40) }, 'validUntil', 400],
        [{ code: 'FOREIGN', percentOff: 10, ticketTypeIds: [foreign.id] }, 'ticketTypeIds', 400],
        [{ code: 'no spaces!', percentOff: 10 }, 'code', 400],
        [{ code: 'EARLY20', percentOff: 10 }, 'code', 409],
      ];
      for (const [body, field, status] of cases) {
        expectRefused(await as(owner).post(`/organizer/events/${event.id}/promo-codes`, body), status, field);
      }
      expect(await tableCounts()).toEqual(before);
    });

    it('deletes an unused code, keeps a used one', async () => {
      const code = (await as(owner).post<{ id: string }>(`/organizer/events/${event.id}/promo-codes`, { code: 'TEMP', percentOff: 5 })).body;
      const used = (await as(owner).post<{ id: string }>(`/organizer/events/${event.id}/promo-codes`, { code: 'USED', percentOff: 5 })).body;
      await db.sql`update promo_codes set uses = 1 where id = ${used.id}`;
      expect((await as(owner).del(`/organizer/events/${event.id}/promo-codes/${code.id}`)).status).toBe(204);
      expectRefused(await as(owner).del(`/organizer/events/${event.id}/promo-codes/${used.id}`), 409);
    });
  });

  it('admins list organizers and their events', async () => {
    const list = await as(admin).get<{ items: { id: string; email: string; events: number }[] }>('/admin/organizers');
    expect(list.status).toBe(200);
    const ownerRow = list.body.items.find((o) => o.email === 'cat-owner@example.com');
    expect(ownerRow?.events).toBeGreaterThan(0);
    const events = await as(admin).get<{ items: Event[] }>(`/admin/organizers/${owner.user.id}/events`);
    expect(events.body.items.length).toBe(ownerRow?.events);
    expect((await as(owner).get('/admin/organizers')).status).toBe(403);
  });
});
