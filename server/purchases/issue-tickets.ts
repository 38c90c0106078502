// Issuing tickets: Postgres is the final arbiter. One transaction locks the ticket types in sorted
// order, raises `sold` only where `sold + n <= capacity`, and inserts the tickets, whose seats a
// unique index sells at most once. If it cannot issue, the purchase goes to refunding; it never
// oversells. Idempotent: a purchase that already has tickets answers "issued" again.
import { randomBytes, randomUUID } from 'node:crypto';
import type { PurchaseEffects, PurchaseEvent } from '../../machines/index.ts';
import type { Inventory } from '../inventory/index.ts';
import type { Sql } from '../store/index.ts';

class CannotIssue extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** Makes a ticket's code from its facts (signed in production; see scanning/ticket-codes.ts). */
export type TicketCoder = (facts: { ticketId: string; eventId: string; ticketTypeId: string; seatId: string | null; issuedAt: Date }) => Promise<string>;

const randomCode: TicketCoder = () => Promise.resolve(randomBytes(15).toString('base64url'));

export async function issueTickets(
  sql: Sql,
  inventory: Inventory,
  params: PurchaseEffects['issueTickets'],
  codeFor: TicketCoder = randomCode,
  /** The hold's status when the caller read it just before (one Redis round trip fewer per confirmation). */
  knownStatus?: 'live' | 'missing' | 'stale',
): Promise<PurchaseEvent> {
  const { purchaseId, eventId, holdToken, items } = params;
  // Issued before (this effect retried): its first run may have died before converting the hold.
  const issued = async (): Promise<PurchaseEvent> => {
    await inventory.convert({ purchaseId, eventId, items, token: holdToken });
    return { type: 'tickets.issued' };
  };
  const [already] = await sql<{ n: number }[]>`select count(*)::int as n from tickets where purchase_id = ${purchaseId}`;
  if (already && already.n > 0) return issued();
  const [event] = await sql<{ status: string }[]>`select status from events where id = ${eventId}`;
  if (event?.status === 'cancelled') return { type: 'tickets.failed', reason: 'event_cancelled' };

  // The fence: a hold record with another token means this caller is stale; seats now held by
  // someone else mean the hold was released and resold, or that they came free past the grace
  // while the record (kept longer, for its units) waited for a late release. A hold that is simply
  // gone (lost with Redis) may still issue: the counts were rebuilt with this purchase's units set
  // aside, and the guard below has the last word.
  const status = knownStatus ?? (await inventory.holdStatus(eventId, purchaseId, holdToken));
  if (status === 'stale') return { type: 'tickets.failed', reason: 'stale_hold' };
  const seatIds = items.flatMap((i) => i.seatIds ?? []);
  const owners = await inventory.seatOwners(eventId, seatIds);
  if (owners.some((o) => o !== null && o !== purchaseId && o !== `sold:${purchaseId}`)) return { type: 'tickets.failed', reason: 'hold_lost' };

  // The codes are signed before the transaction: signing may read (or create) the event's key
  // through the pool, and a transaction holding the hot ticket-type row must never wait for a pool
  // connection. In a burst of confirmations every other connection can be queued behind that very
  // row: the pool deadlocks (the on-sale load test found it, at the first tickets of a sale).
  const sorted = [...items].sort((a, b) => a.ticketTypeId.localeCompare(b.ticketTypeId));
  const tickets: { ticketId: string; ticketTypeId: string; seatId: string | null; code: string }[] = [];
  for (const item of sorted) {
    const seats = item.seatIds ?? [];
    for (let unit = 0; unit < item.quantity; unit++) {
      const ticketId = randomUUID();
      const seatId = seats[unit] ?? null;
      const code = await codeFor({ ticketId, eventId, ticketTypeId: item.ticketTypeId, seatId, issuedAt: new Date() });
      tickets.push({ ticketId, ticketTypeId: item.ticketTypeId, seatId, code });
    }
  }

  try {
    const issuedBefore = await sql.begin(async (tx) => {
      // Two runs of this effect at once (the outbox relay retrying one still in flight) issue once:
      // the second waits here, then finds the first one's tickets.
      await tx`select pg_advisory_xact_lock(hashtextextended(${`issue:${purchaseId}`}, 0))`;
      const [issued] = await tx<{ n: number }[]>`select count(*)::int as n from tickets where purchase_id = ${purchaseId}`;
      if (issued && issued.n > 0) return true;
      for (const item of sorted) {
        const raised = await tx`
          update ticket_types set sold = sold + ${item.quantity}
          where id = ${item.ticketTypeId} and event_id = ${eventId} and sold + ${item.quantity} <= capacity
          returning id`;
        if (raised.length === 0) throw new CannotIssue('sold_out');
      }
      for (const t of tickets) {
        await tx`
          insert into tickets (id, purchase_id, event_id, ticket_type_id, seat_id, code)
          values (${t.ticketId}, ${purchaseId}, ${eventId}, ${t.ticketTypeId}, ${t.seatId}, ${t.code})`;
      }
      return false;
    });
    if (issuedBefore) return issued();
  } catch (err) {
    if (err instanceof CannotIssue) return { type: 'tickets.failed', reason: err.reason };
    // The unique index on seats: someone else's ticket already has one of these seats.
    if ((err as { code?: string; constraint_name?: string }).constraint_name === 'tickets_seat_once') {
      return { type: 'tickets.failed', reason: 'seat_sold' };
    }
    throw err;
  }
  // The hold became tickets; if Redis lost it meanwhile there is nothing to convert, and the
  // counts are rebuilt from Postgres.
  return issued();
}
