// Rebuilds an event's available counts in Redis from Postgres: capacity - sold - what live
// purchases hold. Run at start, by the periodic sweep, and when a hold finds no count (a flushed
// Redis heals itself, a new event gets its first counts). A purchase still reserving counts only
// once its placeHold effect has run (its hold may have existed before a flush); one whose hold is
// not placed yet is about to ask the rebuilt count itself, and counting it would undersell.
import type { Inventory } from '../inventory/index.ts';
import type { Sql } from '../store/index.ts';
import { HOLDING_STATES } from './availability.ts';

/** How long a restored held seat outlives its deadline if every release were lost. */
const GRACE_MS = 5 * 60_000;

export async function rebuildAvailability(
  sql: Sql,
  inventory: Inventory,
  eventId: string,
  options: { onlyIfMissing?: boolean } = {},
): Promise<Record<string, number>> {
  const rows = await sql<{ id: string; available: number }[]>`
    select t.id, greatest(0, t.capacity - t.sold - coalesce(h.held, 0))::int as available
    from ticket_types t
    left join (
      select (item->>'ticketTypeId')::uuid as ticket_type_id, sum((item->>'quantity')::int) as held
      from purchases p, jsonb_array_elements(p.snapshot->'context'->'items') item
      where p.event_id = ${eventId} and p.state in ${sql(HOLDING_STATES)}
        and ${holdPlaced(sql)}
      group by 1
    ) h on h.ticket_type_id = t.id
    where t.event_id = ${eventId}`;
  const counts = Object.fromEntries(rows.map((r) => [r.id, r.available]));
  await inventory.setAvailable(eventId, counts, options);
  await restoreSeatsAndFence(sql, inventory, eventId);
  return counts;
}

/** A purchase still reserving holds nothing until its placeHold effect has run (see above). */
const holdPlaced = (sql: Sql) => sql`(p.state <> 'reserving' or exists (
  select 1 from purchase_outbox o where o.purchase_id = p.id and o.effect = 'placeHold' and o.done_at is not null))`;

/** Sold and held seats, and the fencing counter, put back where Redis lost them. */
async function restoreSeatsAndFence(sql: Sql, inventory: Inventory, eventId: string): Promise<void> {
  const [fence] = await sql<{ max: string | null }[]>`
    select max((snapshot->'context'->'hold'->>'token')::bigint)::text as max from purchases where event_id = ${eventId}`;
  const sold = await sql<{ seat_id: string; purchase_id: string }[]>`
    select seat_id::text, purchase_id from tickets where event_id = ${eventId} and seat_id is not null and status = 'valid'`;
  const held = await sql<{ seat_id: string; purchase_id: string; ttl_ms: number }[]>`
    select seat.id as seat_id, p.id as purchase_id,
           greatest(1000, extract(epoch from (coalesce(p.hold_deadline, now()) - now())) * 1000 + ${GRACE_MS})::int as ttl_ms
    from purchases p
    cross join lateral jsonb_array_elements(p.snapshot->'context'->'items') item
    cross join lateral jsonb_array_elements_text(coalesce(item->'seatIds', '[]'::jsonb)) seat(id)
    where p.event_id = ${eventId} and p.state in ${sql(HOLDING_STATES)} and ${holdPlaced(sql)}`;
  await inventory.restore(eventId, {
    fenceAtLeast: Number(fence?.max ?? 0),
    seats: [
      ...sold.map((s) => ({ seatId: s.seat_id, purchaseId: s.purchase_id, sold: true })),
      ...held.map((h) => ({ seatId: h.seat_id, purchaseId: h.purchase_id, sold: false, ttlMs: h.ttl_ms })),
    ],
  });
}

/** Every event still selling. */
export async function sellingEvents(sql: Sql): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`select id from events where status = 'published' and sales_end_at > now() - interval '1 day'`;
  return rows.map((r) => r.id);
}
