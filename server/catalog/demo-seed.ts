// The demo on-sale that `npm start` seeds: one published event with a general-admission type, a
// seated section of 300 seats and a promo code. Idempotent: a second run changes nothing.
import type { Sql } from '../store/index.ts';

export const DEMO_EVENT_SLUG = 'demo-on-sale';
export const DEMO_ORGANIZER_EMAIL = 'demo-organizer@boxoffice.invalid';
const SEAT_ROWS = 'ABCDEFGHIJKL'.split('');
const SEATS_PER_ROW = 25;

export interface DemoSeed {
  eventId: string;
  slug: string;
  created: boolean;
}

export async function seedDemo(sql: Sql, now: Date = new Date()): Promise<DemoSeed> {
  return sql.begin(async (tx): Promise<DemoSeed> => {
    const [existing] = await tx<{ id: string }[]>`select id from events where slug = ${DEMO_EVENT_SLUG}`;
    if (existing) return { eventId: existing.id, slug: DEMO_EVENT_SLUG, created: false };

    // The demo organizer has no password: it owns the demo event but cannot log in.
    const [organizer] = await tx<{ id: string }[]>`
      insert into users (email, display_name, role) values (${DEMO_ORGANIZER_EMAIL}, 'Demo Organizer', 'organizer')
      on conflict (email) do update set updated_at = users.updated_at
      returning id`;
    const day = 24 * 60 * 60 * 1000;
    const startsAt = new Date(now.getTime() + 30 * day);
    const [event] = await tx<{ id: string }[]>`
      insert into events (organizer_id, slug, title, description, venue_name, venue_address, timezone,
                          starts_at, ends_at, sales_start_at, sales_end_at, status, published_at)
      values (${organizer!.id}, ${DEMO_EVENT_SLUG}, 'boxoffice demo night',
              'A demo on-sale: general admission and a seated stalls section.',
              'The Demo Hall', '1 Example Street', 'Europe/London',
              ${startsAt}, ${new Date(startsAt.getTime() + 3 * 60 * 60 * 1000)},
              ${new Date(now.getTime() - 60 * 60 * 1000)}, ${startsAt}, 'published', ${now})
      returning id`;
    const eventId = event!.id;
    await tx`
      insert into ticket_types (event_id, name, kind, price_minor, currency, capacity, per_order_max, sort_order)
      values (${eventId}, 'General admission', 'general', 2500, 'EUR', 500, 10, 1),
             (${eventId}, 'Stalls', 'seated', 4500, 'EUR', ${SEAT_ROWS.length * SEATS_PER_ROW}, 8, 2)`;
    await tx`
      insert into seats (event_id, ticket_type_id, section, row_label, seat_number, x, y)
      select ${eventId}, tt.id, 'Stalls', r.label, n::text, n, r.ord
      from ticket_types tt,
           unnest(${SEAT_ROWS}::text[]) with ordinality as r(label, ord),
           generate_series(1, ${SEATS_PER_ROW}) as n
      where tt.event_id = ${eventId} and tt.name = 'Stalls'`;
    await tx`
      insert into promo_codes (event_id, code, discount_kind, percent_off, max_uses, per_customer_limit)
      values (${eventId}, 'DEMO10', 'percent', 10, 100, 1)`;
    return { eventId, slug: DEMO_EVENT_SLUG, created: true };
  });
}
