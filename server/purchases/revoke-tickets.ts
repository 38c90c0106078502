// Voiding tickets for a refund: in one transaction the tickets become void (the scanner refuses
// them) and `sold` goes down; then their units go back on sale in Redis, once per request. Safe to
// run again: voided tickets stay voided by the same step, and the restock is marked done.
import type { PurchaseEffects } from '../../machines/index.ts';
import type { Inventory } from '../inventory/index.ts';
import type { Sql } from '../store/index.ts';

export async function revokeTickets(sql: Sql, inventory: Inventory, params: PurchaseEffects['revokeTickets']): Promise<void> {
  const { purchaseId, eventId, ticketIds, requestId } = params;
  await sql.begin(async (tx) => {
    const voided = await tx<{ ticket_type_id: string }[]>`
      update tickets set status = 'void', voided_at = now(), voided_by_step = ${requestId}
      where purchase_id = ${purchaseId} and status = 'valid' ${ticketIds ? tx`and id in ${tx(ticketIds)}` : tx``}
      returning ticket_type_id`;
    const perType = new Map<string, number>();
    for (const t of voided) perType.set(t.ticket_type_id, (perType.get(t.ticket_type_id) ?? 0) + 1);
    for (const [typeId, n] of [...perType].sort(([a], [b]) => a.localeCompare(b))) {
      await tx`update ticket_types set sold = sold - ${n} where id = ${typeId}`;
    }
  });
  const mine = await sql<{ ticket_type_id: string; seat_id: string | null }[]>`
    select ticket_type_id, seat_id::text from tickets where purchase_id = ${purchaseId} and voided_by_step = ${requestId}`;
  if (!mine.length) return;
  const units: Record<string, number> = {};
  for (const t of mine) units[t.ticket_type_id] = (units[t.ticket_type_id] ?? 0) + 1;
  const seatIds = mine.flatMap((t) => (t.seat_id ? [t.seat_id] : []));
  await inventory.restock({ eventId, purchaseId, requestId, units, seatIds });
}
