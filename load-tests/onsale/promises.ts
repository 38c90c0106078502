// The promises of DESIGN.md, checked at the end of a run: first wait (bounded) until every hold has
// ended (TTL, timers and sweep), then read each event's facts (server/purchases/promises.ts, the
// same the integration tests assert) and compare Redis, Postgres and what the buyers saw.
import { createInventory } from '../../server/inventory/index.ts';
import { brokenPromises, eventFacts, type EventFacts } from '../../server/purchases/promises.ts';
import type { Redis, Sql } from '../../server/store/index.ts';
import { REFUSALS, type BuyerRecord } from './buyer.ts';
import type { SaleEvent } from './plan.ts';
import { soldSeatsDigest, type ViewSummary } from './watchers.ts';

const LIVE_STATES = ['reserving', 'held', 'paying', 'confirming', 'refunding'];

/** Waits until no purchase of these events is live and no effect is pending, or `deadline` passes. */
export async function waitSettled(sql: Sql, eventIds: readonly string[], deadline: number): Promise<{ settled: boolean; live: number; pending: number }> {
  for (;;) {
    const [row] = await sql<{ live: number; pending: number }[]>`
      select (select count(*)::int from purchases where event_id in ${sql(eventIds)} and state in ${sql(LIVE_STATES)}) as live,
             (select count(*)::int from purchase_outbox o join purchases p on p.id = o.purchase_id
              where p.event_id in ${sql(eventIds)} and o.done_at is null) as pending`;
    if (row!.live === 0 && row!.pending === 0) return { settled: true, live: 0, pending: 0 };
    if (Date.now() > deadline) return { settled: false, live: row!.live, pending: row!.pending };
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** What the database's sessions are doing (a sale that did not settle: waiting on locks? idle in transaction?). */
export async function databaseActivity(sql: Sql): Promise<string[]> {
  const rows = await sql<{ state: string | null; wait: string | null; query: string; n: number; oldest: number }[]>`
    select state, wait_event_type || ':' || wait_event as wait, left(regexp_replace(query, '[[:space:]]+', ' ', 'g'), 90) as query,
           count(*)::int as n, max(extract(epoch from now() - coalesce(xact_start, query_start)))::int as oldest
    from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()
    group by 1, 2, 3 order by n desc limit 12`;
  return rows.map((r) => `${r.n} x ${r.state ?? '?'} (${r.wait ?? 'no wait'}, oldest ${r.oldest} s): ${r.query}`);
}

/** When the last hold of these events ends at the latest (its deadline), epoch ms. */
export async function lastHoldDeadline(sql: Sql, eventIds: readonly string[]): Promise<number> {
  const [row] = await sql<{ at: Date | null }[]>`select max(hold_deadline) as at from purchases where event_id in ${sql(eventIds)}`;
  return row?.at?.getTime() ?? Date.now();
}

export interface Truth {
  /** Per event: the counts a watcher should end with, and its sold seats' digest. */
  views: Record<string, { counts: Record<string, number>; soldDigest: string }>;
}

export interface Verdicts {
  promises: Record<string, 'pass' | 'fail'>;
  /** Up to 20 findings per broken promise. */
  findings: Record<string, string[]>;
  truth: Truth;
  perEvent: { eventId: string; kind: string; capacity: number; sold: number; demand: number; confirmedByBuyers: number; redisAvailable: number | null }[];
}

interface CheckInput {
  sql: Sql;
  redis: Redis;
  keyPrefix: string;
  events: readonly SaleEvent[];
  records: readonly BuyerRecord[];
  settle: { settled: boolean; live: number; pending: number };
  serverErrors: string[];
  paidWithoutTicketMetric: number | null;
}

export async function checkPromises(input: CheckInput): Promise<Verdicts> {
  const { sql, redis, keyPrefix, events, records } = input;
  const inventory = createInventory(redis, keyPrefix);
  const findings: Record<string, string[]> = {
    no_oversell: [],
    sold_matches_paid_demand: [],
    no_leaked_holds: [],
    paid_without_ticket_or_refund: [],
    transitions_replay: [],
    tickets_match_purchases: [],
    no_server_errors: [...input.serverErrors],
  };
  if (!input.settle.settled) {
    findings['no_leaked_holds']!.push(
      `after the TTL and the grace: ${input.settle.live} purchases still live, ${input.settle.pending} effects pending (the other checks read a sale still moving)`,
      ...(await databaseActivity(sql)).map((line) => `database: ${line}`),
    );
  }
  if (input.paidWithoutTicketMetric) findings['paid_without_ticket_or_refund']!.push(`boxoffice_paid_without_ticket_or_refund = ${input.paidWithoutTicketMetric}`);
  const truth: Truth = { views: {} };
  const perEvent: Verdicts['perEvent'] = [];
  for (const event of events) {
    const facts = await eventFacts(sql, event.eventId, { client: redis, keyPrefix });
    for (const [name, broken] of Object.entries(brokenPromises(facts))) {
      const key = name === 'released_holds_gone' ? 'no_leaked_holds' : name;
      findings[key]!.push(...broken);
    }
    const type = facts.types.find((t) => t.id === event.ticketTypeId)!;
    const available = (await inventory.available(event.eventId, [event.ticketTypeId]))[event.ticketTypeId] ?? null;
    const live = facts.purchases.filter((p) => LIVE_STATES.includes(p.state)).reduce((sum, p) => sum + p.wantedTickets, 0);
    if (available !== type.capacity - type.sold - live) {
      const [late] = await sql<{ n: number }[]>`
        select count(distinct t.purchase_id)::int as n from purchase_transitions t join purchases p on p.id = t.purchase_id
        where p.event_id = ${event.eventId} and t.from_state = 'expired' and t.to_state = 'confirming'`;
      findings['no_leaked_holds']!.push(
        `event ${event.eventId}: Redis says ${available} available, Postgres ${type.capacity} - ${type.sold} sold - ${live} held ` +
          `(${late!.n} purchases were paid after their hold expired, and claimed their units again)`,
      );
    }
    const owners = await inventory.seatOwners(event.eventId, event.seatIds);
    const heldSeats = owners.filter((o) => o !== null && !o.startsWith('sold:')).length;
    if (heldSeats > 0) {
      // Who holds them, and how those purchases went: what a fix needs to know.
      const holders = [...new Set(owners.filter((o): o is string => o !== null && !o.startsWith('sold:')))].slice(0, 3);
      const paths = await sql<{ id: string; state: string; path: string }[]>`
        select p.id, p.state, string_agg(t.event_type || '>' || t.to_state, ' ' order by t.seq) as path
        from purchases p join purchase_transitions t on t.purchase_id = p.id where p.id::text in ${sql(holders)} group by p.id, p.state`;
      findings['no_leaked_holds']!.push(
        `event ${event.eventId}: ${heldSeats} seats still held in Redis, by ${paths.map((p) => `${p.id} (${p.state}: ${p.path})`).join('; ') || holders.join(', ')}`,
      );
    }
    const soldSeats = await sql<{ id: string }[]>`select seat_id::text as id from tickets where event_id = ${event.eventId} and seat_id is not null and status = 'valid'`;
    truth.views[event.eventId] = { counts: { [event.ticketTypeId]: available ?? -1 }, soldDigest: soldSeatsDigest(soldSeats.map((s) => s.id)) };
    const demand = demandOf(event, facts, records.filter((r) => r.eventId === event.eventId), findings['sold_matches_paid_demand']!);
    perEvent.push({ eventId: event.eventId, kind: event.kind, capacity: type.capacity, sold: type.sold, redisAvailable: available, ...demand });
  }
  return { promises: verdictsOf(findings), findings: trimmed(findings), truth, perEvent };
}

/**
 * sold = min(demand that paid, capacity), as far as a crowd that also abandons, cancels and fails
 * allows: every payment the buyers saw accepted became a ticket (sold = accepted less refunds,
 * plus at most the pay requests whose answer never came); never more than the paying demand
 * (standing: paying buyers who got an answer; seated: the distinct seats they wanted) or the
 * capacity; and no fewer than that minimum less what other holds could have blocked (other
 * buyers' holds, holds whose answer never came) and the payers whose own payment failed.
 */
function demandOf(event: SaleEvent, facts: EventFacts, records: readonly BuyerRecord[], findings: string[]) {
  const answered = (r: BuyerRecord) => r.hold === 'held' || REFUSALS.has(r.hold);
  const payers = records.filter((r) => r.outcome === 'pay' && answered(r));
  const demand = event.kind === 'seated' ? new Set(payers.map((r) => r.seatId)).size : payers.length;
  const accepted = payers.filter((r) => r.actStatus === 200).length;
  const unanswered = payers.filter((r) => r.hold === 'held' && r.actStart !== null && r.actStatus === 0).length;
  const refunded = facts.purchases.filter((p) => p.paid && p.state !== 'confirmed').length;
  const blockers = records.filter((r) => (r.outcome !== 'pay' && r.hold === 'held') || (r.holdStart > 0 && !answered(r))).length;
  const payerFailures = payers.filter((r) => r.hold === 'held' && r.actStatus !== 200).length;
  const sold = facts.types.find((t) => t.id === event.ticketTypeId)?.sold ?? 0;
  const upper = Math.min(demand, event.capacity);
  const lower = upper - blockers - payerFailures;
  if (sold < accepted - refunded || sold > accepted - refunded + unanswered) {
    findings.push(`event ${event.eventId}: sold ${sold}, but buyers saw ${accepted} payments accepted (${refunded} refunded, ${unanswered} unanswered)`);
  }
  if (sold > upper) findings.push(`event ${event.eventId}: sold ${sold} > min(paying demand ${demand}, capacity ${event.capacity})`);
  if (sold < lower) findings.push(`event ${event.eventId}: sold ${sold} < ${lower} (min(demand, capacity) less ${blockers} other holds and ${payerFailures} failed payers)`);
  return { demand, confirmedByBuyers: records.filter((r) => r.confirmedAt !== null).length };
}

/** Every watcher, once the storm is over, shows what Redis and Postgres say. */
export function staleWatchers(groups: readonly ViewSummary[], truth: Truth): string[] {
  const stale: string[] = [];
  for (const g of groups) {
    const want = truth.views[g.eventId];
    if (!want) continue;
    const countsMatch = Object.entries(want.counts).every(([type, n]) => g.counts[type] === n);
    if (!countsMatch || g.held !== 0 || g.soldDigest !== want.soldDigest) {
      stale.push(`${g.watchers} watchers of event ${g.eventId} show ${JSON.stringify(g.counts)}, ${g.held} held seats, sold ${g.soldDigest}; truth ${JSON.stringify(want.counts)}, sold ${want.soldDigest}`);
    }
  }
  return stale;
}

function verdictsOf(findings: Record<string, string[]>): Record<string, 'pass' | 'fail'> {
  return Object.fromEntries(Object.entries(findings).map(([name, list]) => [name, list.length ? 'fail' : 'pass']));
}

function trimmed(findings: Record<string, string[]>): Record<string, string[]> {
  return Object.fromEntries(Object.entries(findings).filter(([, list]) => list.length).map(([name, list]) => [name, list.slice(0, 20)]));
}

/** The verdicts with one more promise checked (`found`: what breaks it). */
export function withFinding(verdicts: Verdicts, name: string, found: readonly string[]): Verdicts {
  return {
    ...verdicts,
    promises: { ...verdicts.promises, [name]: found.length ? 'fail' : 'pass' },
    findings: trimmed({ ...verdicts.findings, [name]: [...found] }),
  };
}
