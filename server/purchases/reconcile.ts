// Rebuilds an event's available counts in Redis from Postgres: capacity - sold - what live
// purchases hold. Run at start, by the periodic sweep, and when a hold finds no count (a flushed
// Redis heals itself). Purchases still reserving count as holding: while a hold is in flight the
// count may read low for a moment (undersell), never high (oversell).
import type { Inventory } from '../inventory/index.ts';
import type { Sql } from '../store/index.ts';

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
      where p.event_id = ${eventId} and p.state in ('reserving', 'held', 'paying', 'confirming')
      group by 1
    ) h on h.ticket_type_id = t.id
    where t.event_id = ${eventId}`;
  const counts = Object.fromEntries(rows.map((r) => [r.id, r.available]));
  await inventory.setAvailable(eventId, counts, options);
  return counts;
}

/** Every event still selling. */
export async function sellingEvents(sql: Sql): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`select id from events where status = 'published' and sales_end_at > now() - interval '1 day'`;
  return rows.map((r) => r.id);
}
