// Rebuilds an event's inventory in Redis from Postgres: the available counts (capacity - sold -
// what live holds take), the sold seats, the fencing counter, and the hold record of each live
// hold, so that the purchase's release or conversion finds it and gives back (or keeps) its units
// and seats. Run at start, by the periodic sweep, and when a hold or a watcher finds no count (a
// flushed Redis heals itself, a new event gets its first counts).
//
// A live hold is one the purchase knows it has (a token in its context): a purchase still
// reserving has none yet and is about to ask the rebuilt count itself, and one paid after its hold
// was released claims its units again itself (counting either would undersell). A purchase whose
// tickets are in counts as sold, whatever its state says yet.
import type { PurchaseItem } from '../../machines/index.ts';
import type { Inventory, InventoryRecord } from '../inventory/index.ts';
import type { Sql } from '../store/index.ts';
import { HOLDING_STATES } from './availability.ts';

/** How long a restored held seat outlives its deadline if every release were lost. */
const GRACE_MS = 5 * 60_000;

/** What Postgres says an event's Redis inventory holds, read as one consistent snapshot. */
export type EventInventory = Omit<InventoryRecord, 'overwrite' | 'seatGraceMs'>;

export async function readEventInventory(sql: Sql, eventId: string): Promise<EventInventory> {
  return sql.begin(async (tx) => {
    await tx`set transaction isolation level repeatable read, read only`;
    const types = await tx<{ id: string; capacity: number; sold: number }[]>`
      select id, capacity, sold from ticket_types where event_id = ${eventId}`;
    const holding = await tx<{ id: string; items: PurchaseItem[]; hold: { token: string; deadline: number } }[]>`
      select p.id, p.snapshot->'context'->'items' as items, p.snapshot->'context'->'hold' as hold
      from purchases p
      where p.event_id = ${eventId} and p.state in ${tx(HOLDING_STATES)}
        and jsonb_typeof(p.snapshot->'context'->'hold') = 'object'
        and not exists (select 1 from tickets t where t.purchase_id = p.id)`;
    const sold = await tx<{ seatId: string; purchaseId: string }[]>`
      select seat_id::text as "seatId", purchase_id as "purchaseId" from tickets
      where event_id = ${eventId} and seat_id is not null and status = 'valid'`;
    const [fence] = await tx<{ max: string | null }[]>`
      select max(greatest((snapshot->'context'->'hold'->>'token')::bigint, (snapshot->'context'->>'releasedToken')::bigint))::text as max
      from purchases where event_id = ${eventId}`;
    const held = new Map<string, number>();
    for (const p of holding) for (const item of p.items) held.set(item.ticketTypeId, (held.get(item.ticketTypeId) ?? 0) + item.quantity);
    return {
      fenceAtLeast: Number(fence?.max ?? 0),
      counts: Object.fromEntries(types.map((t) => [t.id, Math.max(0, t.capacity - t.sold - (held.get(t.id) ?? 0))])),
      sold,
      holds: holding.map((p) => ({ purchaseId: p.id, token: p.hold.token, deadline: p.hold.deadline, items: p.items })),
    };
  });
}

/**
 * Puts `record` back where Redis lacks it (see Inventory.restore). A purchase may have moved on
 * between the read and the restore, its release or conversion finding nothing then: a hold record
 * put back for one whose tickets are issued is converted here (its state may still say confirming
 * while the tickets are in), and one put back for a purchase that ended without tickets is released,
 * so nothing stays held for a purchase that is over.
 */
export async function restoreEventInventory(
  sql: Sql,
  inventory: Inventory,
  eventId: string,
  record: EventInventory,
  options: { onlyIfMissing?: boolean } = {},
): Promise<string[]> {
  const restored = await inventory.restore(eventId, { ...record, overwrite: !options.onlyIfMissing, seatGraceMs: GRACE_MS });
  if (!restored.length) return restored;
  const moved = await sql<{ id: string; tickets: number }[]>`
    select id, tickets from (
      select p.id, p.state, (select count(*)::int from tickets t where t.purchase_id = p.id and t.status = 'valid') as tickets
      from purchases p where p.id in ${sql(restored)}) r
    where r.tickets > 0 or r.state not in ${sql(HOLDING_STATES)}`;
  for (const purchase of moved) {
    const hold = record.holds.find((h) => h.purchaseId === purchase.id)!;
    const request = { purchaseId: hold.purchaseId, eventId, items: hold.items, token: hold.token };
    await (purchase.tickets > 0 ? inventory.convert(request) : inventory.release(request));
  }
  return restored;
}

export async function rebuildAvailability(
  sql: Sql,
  inventory: Inventory,
  eventId: string,
  options: { onlyIfMissing?: boolean } = {},
): Promise<Record<string, number>> {
  const record = await readEventInventory(sql, eventId);
  await restoreEventInventory(sql, inventory, eventId, record, options);
  return { ...record.counts };
}

/** Every event still selling. */
export async function sellingEvents(sql: Sql): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`select id from events where status = 'published' and sales_end_at > now() - interval '1 day'`;
  return rows.map((r) => r.id);
}
