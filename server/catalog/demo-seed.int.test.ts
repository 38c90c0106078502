import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/databases.ts';
import { DEMO_EVENT_SLUG, seedDemo } from './demo-seed.ts';

const TABLES = ['users', 'events', 'ticket_types', 'seats', 'promo_codes'] as const;

describe('demo seed', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  async function counts(): Promise<Record<string, number>> {
    const result: Record<string, number> = {};
    for (const table of TABLES) {
      const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from ${db.sql(table)}`;
      result[table] = row!.n;
    }
    return result;
  }

  it('creates one published on-sale with general admission, 300 seats and a promo code', async () => {
    const seed = await seedDemo(db.sql);
    expect(seed).toMatchObject({ slug: DEMO_EVENT_SLUG, created: true });
    const [event] = await db.sql<{ status: string; sales_start_at: Date; sales_end_at: Date }[]>`
      select status, sales_start_at, sales_end_at from events where id = ${seed.eventId}`;
    expect(event?.status).toBe('published');
    expect(event!.sales_start_at.getTime()).toBeLessThan(Date.now());
    expect(event!.sales_end_at.getTime()).toBeGreaterThan(Date.now());

    const types = await db.sql<{ name: string; kind: string; capacity: number; seats: number }[]>`
      select tt.name, tt.kind, tt.capacity, count(s.id)::int as seats
      from ticket_types tt left join seats s on s.ticket_type_id = tt.id
      where tt.event_id = ${seed.eventId} group by tt.id order by tt.sort_order`;
    expect(types).toEqual([
      { name: 'General admission', kind: 'general', capacity: 500, seats: 0 },
      { name: 'Stalls', kind: 'seated', capacity: 300, seats: 300 },
    ]);
    const [promo] = await db.sql<{ code: string; percent_off: number }[]>`select code, percent_off from promo_codes where event_id = ${seed.eventId}`;
    expect(promo).toEqual({ code: 'DEMO10', percent_off: 10 });
  });

  it('is idempotent: a second run changes nothing', async () => {
    const before = await counts();
    const again = await seedDemo(db.sql);
    expect(again.created).toBe(false);
    expect(await counts()).toEqual(before);
  });
});
