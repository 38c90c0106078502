// The promises of DESIGN.md as facts about one event, read from Postgres (and Redis): what the
// integration tests assert and what the on-sale load test reports. Reads only; changes nothing.
// A few queries per event whatever its size, so a spike of thousands of purchases checks quickly.
import { replayPurchase, type PersistedPurchase, type PurchaseEvent } from '../../machines/index.ts';
import { inventoryKeys } from '../inventory/index.ts';
import type { Redis, Sql } from '../store/index.ts';

/** States after which a purchase holds nothing in Redis (its hold record is gone). */
export const RELEASED_STATES = ['expired', 'cancelled', 'rejected', 'payment_failed', 'refunded', 'confirmed'] as const;
/** Where a purchase whose payment succeeded may be: tickets issued, or money on its way back. */
export const PAID_STATES = ['confirmed', 'refunded', 'refunding', 'confirming'] as const;

export interface TicketTypeFacts {
  id: string;
  kind: string;
  sold: number;
  capacity: number;
  /** Valid tickets issued for the type. */
  tickets: number;
}

export interface PurchaseFacts {
  id: string;
  state: string;
  /** The seq of every logged transition, in order (1, 2, 3 ... when nothing is missing). */
  seqs: number[];
  /** The state the logged events fold to, from the purchase's input. */
  replayedState: string;
  lastLoggedState: string | null;
  /** Its log holds a `payment.succeeded`. */
  paid: boolean;
  wantedTickets: number;
  issuedTickets: number;
  validTickets: number;
  /** For a released purchase: whether Redis still has its hold record (null: not asked). */
  holdRecordLeft: boolean | null;
}

export interface EventFacts {
  eventId: string;
  types: TicketTypeFacts[];
  seatsSoldTwice: number;
  /** Money taken with neither tickets nor a refund, not counting purchases still confirming or refunding. */
  paidWithoutTicketOrRefund: number;
  purchases: PurchaseFacts[];
}

interface LogRow {
  purchase_id: string;
  seq: number;
  payload: PurchaseEvent;
  to_state: string;
}

/**
 * Reads the facts of one event, all from one snapshot of the database (a read-only repeatable-read
 * transaction), so a purchase moving meanwhile cannot look half-moved; with `redis`, also whether
 * released purchases left a hold record.
 */
export async function eventFacts(sql: Sql, eventId: string, redis?: { client: Redis; keyPrefix: string }): Promise<EventFacts> {
  const read = await sql.begin(async (tx) => {
    await tx`set transaction isolation level repeatable read, read only`;
    const types = await tx<TicketTypeFacts[]>`
      select t.id, t.kind, t.sold, t.capacity,
             (select count(*)::int from tickets k where k.ticket_type_id = t.id and k.status = 'valid') as tickets
      from ticket_types t where t.event_id = ${eventId} order by t.id`;
    const [twice] = await tx<{ n: number }[]>`
      select count(*)::int as n from (select seat_id from tickets where event_id = ${eventId} and seat_id is not null and status = 'valid'
                                      group by seat_id having count(*) > 1) d`;
    const [unaccounted] = await tx<{ n: number }[]>`
      select count(*)::int as n from payments m join purchases p on p.id = m.purchase_id
      where p.event_id = ${eventId} and m.status = 'succeeded' and m.refunded_minor < m.amount_minor
        and p.state not in ('confirmed', 'confirming', 'refunding')`;
    const rows = await tx<{ id: string; state: string; snapshot: PersistedPurchase }[]>`
      select id, state, snapshot from purchases where event_id = ${eventId} order by id`;
    const log = await tx<LogRow[]>`
      select t.purchase_id, t.seq, t.payload, t.to_state
      from purchase_transitions t join purchases p on p.id = t.purchase_id
      where p.event_id = ${eventId} order by t.purchase_id, t.seq`;
    const issued = await tx<{ purchase_id: string; all: number; valid: number }[]>`
      select purchase_id, count(*)::int as all, (count(*) filter (where status = 'valid'))::int as valid
      from tickets where event_id = ${eventId} group by purchase_id`;
    return { types: [...types], twice: twice!.n, unaccounted: unaccounted!.n, rows: [...rows], log: [...log], issued: [...issued] };
  });
  const { types, rows, log, issued } = read;

  const logOf = new Map<string, LogRow[]>();
  for (const row of log) {
    const entries = logOf.get(row.purchase_id) ?? [];
    entries.push(row);
    logOf.set(row.purchase_id, entries);
  }
  const ticketsOf = new Map(issued.map((r) => [r.purchase_id, r]));
  const released = new Set<string>(RELEASED_STATES);
  const left = redis ? await holdRecordsLeft(redis, eventId, rows.filter((r) => released.has(r.state)).map((r) => r.id)) : null;

  const purchases = rows.map((p): PurchaseFacts => {
    const entries = logOf.get(p.id) ?? [];
    // The first transition is the purchase's creation; the events after it are what it lived through.
    const events = entries.slice(1).map((r) => r.payload);
    const context = p.snapshot.context;
    return {
      id: p.id,
      state: p.state,
      seqs: entries.map((r) => r.seq),
      replayedState: String(replayPurchase(context, events).value),
      lastLoggedState: entries.at(-1)?.to_state ?? null,
      paid: events.some((e) => e.type === 'payment.succeeded'),
      wantedTickets: context.items.reduce((sum, i) => sum + i.quantity, 0),
      issuedTickets: ticketsOf.get(p.id)?.all ?? 0,
      validTickets: ticketsOf.get(p.id)?.valid ?? 0,
      holdRecordLeft: left && released.has(p.state) ? left.has(p.id) : null,
    };
  });
  return { eventId, types, seatsSoldTwice: read.twice, paidWithoutTicketOrRefund: read.unaccounted, purchases };
}

/** Which of these purchases still have a hold record in Redis. */
async function holdRecordsLeft(redis: { client: Redis; keyPrefix: string }, eventId: string, purchaseIds: readonly string[]): Promise<Set<string>> {
  const keys = inventoryKeys(redis.keyPrefix, eventId);
  const found = new Set<string>();
  for (let i = 0; i < purchaseIds.length; i += 500) {
    const batch = purchaseIds.slice(i, i + 500);
    const pipeline = redis.client.pipeline();
    for (const id of batch) pipeline.exists(keys.hold(id));
    const results = (await pipeline.exec()) ?? [];
    results.forEach(([err, n], j) => {
      if (err) throw err;
      if (n === 1) found.add(batch[j]!);
    });
  }
  return found;
}

export type PromiseName = 'no_oversell' | 'paid_without_ticket_or_refund' | 'transitions_replay' | 'tickets_match_purchases' | 'released_holds_gone';

/** Each promise with what breaks it in these facts (an empty list: kept). Pure. */
export function brokenPromises(facts: EventFacts): Record<PromiseName, string[]> {
  const broken: Record<PromiseName, string[]> = {
    no_oversell: [],
    paid_without_ticket_or_refund: [],
    transitions_replay: [],
    tickets_match_purchases: [],
    released_holds_gone: [],
  };
  for (const t of facts.types) {
    if (t.sold > t.capacity) broken.no_oversell.push(`ticket type ${t.id}: sold ${t.sold} > capacity ${t.capacity}`);
    if (t.tickets !== t.sold) broken.no_oversell.push(`ticket type ${t.id}: ${t.tickets} valid tickets but sold ${t.sold}`);
  }
  if (facts.seatsSoldTwice > 0) broken.no_oversell.push(`${facts.seatsSoldTwice} seats sold twice`);
  if (facts.paidWithoutTicketOrRefund > 0) broken.paid_without_ticket_or_refund.push(`${facts.paidWithoutTicketOrRefund} payments without ticket or refund`);
  const paidStates = new Set<string>(PAID_STATES);
  for (const p of facts.purchases) {
    if (p.seqs.some((seq, i) => seq !== i + 1)) broken.transitions_replay.push(`purchase ${p.id}: log seqs ${p.seqs.join(',')}`);
    if (p.replayedState !== p.state) broken.transitions_replay.push(`purchase ${p.id}: log replays to ${p.replayedState}, state is ${p.state}`);
    if (p.lastLoggedState !== p.state) broken.transitions_replay.push(`purchase ${p.id}: last logged ${p.lastLoggedState}, state is ${p.state}`);
    if (p.paid && !paidStates.has(p.state)) broken.paid_without_ticket_or_refund.push(`purchase ${p.id}: paid but ${p.state}`);
    if (p.state === 'confirmed' && p.issuedTickets !== p.wantedTickets) {
      broken.tickets_match_purchases.push(`confirmed purchase ${p.id}: ${p.issuedTickets} tickets, wanted ${p.wantedTickets}`);
    }
    if (p.state !== 'confirmed' && p.validTickets > 0) broken.tickets_match_purchases.push(`${p.state} purchase ${p.id}: ${p.validTickets} valid tickets`);
    if (p.holdRecordLeft) broken.released_holds_gone.push(`${p.state} purchase ${p.id}: hold record still in Redis`);
  }
  return broken;
}
