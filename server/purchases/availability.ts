// What the catalog shows as taken, answered from Postgres (the record, not the Redis gate): units
// held by live purchases per ticket type, and an event's held and sold seats.
import type { HeldCount, SeatStates } from '../catalog/index.ts';
import type { Sql } from '../store/index.ts';

/** States in which a purchase holds units that are not yet counted as sold. */
export const HOLDING_STATES = ['reserving', 'held', 'paying', 'confirming'] as const;

export function heldCounter(sql: Sql): HeldCount {
  return async (ticketTypeId) => {
    const [row] = await sql<{ n: number }[]>`
      select coalesce(sum((item->>'quantity')::int), 0)::int as n
      from ticket_types t
      join purchases p on p.event_id = t.event_id and p.state in ${sql(HOLDING_STATES)}
      cross join lateral jsonb_array_elements(p.snapshot->'context'->'items') item
      where t.id = ${ticketTypeId} and item->>'ticketTypeId' = ${ticketTypeId}`;
    return row?.n ?? 0;
  };
}

export function seatStateReader(sql: Sql): SeatStates {
  return async (eventId) => {
    const [held, sold] = await Promise.all([
      sql<{ id: string }[]>`
        select distinct seat.id
        from purchases p
        cross join lateral jsonb_array_elements(p.snapshot->'context'->'items') item
        cross join lateral jsonb_array_elements_text(coalesce(item->'seatIds', '[]'::jsonb)) seat(id)
        where p.event_id = ${eventId} and p.state in ${sql(HOLDING_STATES)}`,
      sql<{ id: string }[]>`select seat_id::text as id from tickets where event_id = ${eventId} and seat_id is not null and status = 'valid'`,
    ]);
    return { held: new Set(held.map((r) => r.id)), sold: new Set(sold.map((r) => r.id)) };
  };
}
