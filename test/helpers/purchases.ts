// Buyers, on-sale events and the promises of DESIGN.md, for the purchase tests.
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { createAccessTokens, TOKEN_AUDIENCE, TOKEN_ISSUER, type Role } from '../../server/identity/index.ts';
import { eventFacts, PAID_STATES } from '../../server/purchases/promises.ts';
import type { Sql } from '../../server/store/index.ts';
import { testConfig } from './config.ts';
import type { TestRedis } from './databases.ts';
import { call } from './server.ts';

export interface Person {
  id: string;
  token: string;
}

/**
 * `count` accounts with signed access tokens, made straight in the database: the sign-up flow has
 * its own tests, and a spike needs hundreds of buyers.
 */
export async function people(sql: Sql, count: number, role: Role = 'customer'): Promise<Person[]> {
  const tag = randomUUID().slice(0, 8);
  const rows = await sql<{ id: string }[]>`
    insert into users (email, role, email_verified_at)
    select ${`p-${tag}-`} || n || '@example.com', ${role}, now() from generate_series(1, ${count}) n
    returning id`;
  const tokens = createAccessTokens({ secret: testConfig().auth.jwtSecret, issuer: TOKEN_ISSUER, audience: TOKEN_AUDIENCE, ttlSeconds: 3600 });
  return Promise.all(rows.map(async (r) => ({ id: r.id, token: (await tokens.sign({ userId: r.id, sessionId: randomUUID(), role })).token })));
}

export interface Sale {
  eventId: string;
  ga: string;
  seated: string;
  seatIds: string[];
}

/** A published event on sale now: one general-admission type and one seated type. */
export async function saleEvent(sql: Sql, organizerId: string, options: { capacity: number; seats?: number; perOrderMax?: number }): Promise<Sale> {
  const [event] = await sql<{ id: string }[]>`
    insert into events (organizer_id, slug, title, timezone, starts_at, ends_at, sales_start_at, sales_end_at, status, published_at)
    values (${organizerId}, ${`sale-${randomUUID().slice(0, 8)}`}, 'On-sale', 'UTC', now() + interval '10 days', now() + interval '11 days',
            now() - interval '1 hour', now() + interval '9 days', 'published', now())
    returning id`;
  const eventId = event!.id;
  const perOrderMax = options.perOrderMax ?? 10;
  const [ga] = await sql<{ id: string }[]>`
    insert into ticket_types (event_id, name, kind, price_minor, currency, capacity, per_order_max)
    values (${eventId}, 'Standing', 'general', 2500, 'EUR', ${options.capacity}, ${perOrderMax}) returning id`;
  const seats = options.seats ?? 0;
  const [seated] = await sql<{ id: string }[]>`
    insert into ticket_types (event_id, name, kind, price_minor, currency, capacity, per_order_max)
    values (${eventId}, 'Seated', 'seated', 4000, 'EUR', ${seats}, ${perOrderMax}) returning id`;
  const seatRows = seats
    ? await sql<{ id: string }[]>`
        insert into seats (event_id, ticket_type_id, section, row_label, seat_number)
        select ${eventId}, ${seated!.id}, 'Stalls', 'R' || ((n - 1) / 20 + 1), ((n - 1) % 20 + 1)::text from generate_series(1, ${seats}) n
        returning id::text`
    : [];
  return { eventId, ga: ga!.id, seated: seated!.id, seatIds: seatRows.map((r) => r.id) };
}

/** POST /purchases with a fresh Idempotency-Key unless one is given. */
export function buy(api: string, buyer: Person, body: Record<string, unknown>, key: string = randomUUID()) {
  return call<Record<string, unknown> & { id: string; state: string }>(`${api}/purchases`, {
    token: buyer.token,
    body,
    headers: { 'idempotency-key': key },
  });
}

/**
 * Polls a purchase until it reaches one of `states` and the effects of its transitions have run
 * (no outbox row left undone): the payment road is asynchronous, and a release runs just after the
 * transition that asked for it is committed.
 */
export async function settled(sql: Sql, purchaseId: string, states: readonly string[], timeoutMs = 15_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await sql<{ state: string; pending: number }[]>`
      select state, (select count(*)::int from purchase_outbox o where o.purchase_id = p.id and o.done_at is null) as pending
      from purchases p where id = ${purchaseId}`;
    if (row && states.includes(row.state) && row.pending === 0) return row.state;
    if (Date.now() > until) throw new Error(`purchase ${purchaseId} is ${row?.state ?? 'missing'}, not ${states.join('/')}, after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The promises of DESIGN.md for everything one event's purchases did: sold <= capacity and equal
 * to the tickets issued; no seat sold twice; every log folds to its purchase's state; paid means
 * tickets or a refund; a settled purchase holds nothing in Redis; a purchase got all its seats or
 * none; only a confirmed purchase has valid tickets; no money is taken without a ticket or a refund.
 * The facts come from server/purchases/promises.ts, which the on-sale load test checks too.
 */
export async function assertPromises(sql: Sql, redis: TestRedis, eventId: string): Promise<void> {
  const facts = await eventFacts(sql, eventId, { client: redis.client, keyPrefix: redis.prefix });
  for (const t of facts.types) {
    expect(t.sold).toBeLessThanOrEqual(t.capacity);
    expect(t.tickets).toBe(t.sold);
  }
  expect(facts.seatsSoldTwice).toBe(0);

  // Money taken with neither tickets nor a refund: none (purchases still confirming or refunding
  // are in flight; the tests wait for them to settle before asking).
  expect(facts.paidWithoutTicketOrRefund, 'paid without ticket or refund').toBe(0);

  for (const p of facts.purchases) {
    expect(p.seqs).toEqual(p.seqs.map((_, i) => i + 1));
    expect(p.replayedState, `purchase ${p.id}`).toBe(p.state);
    expect(p.lastLoggedState).toBe(p.state);
    if (p.paid) expect(PAID_STATES).toContain(p.state);
    // A confirmed purchase has all its tickets (some may be voided by a partial refund); any other
    // has no valid ticket (a refunded one had its tickets voided).
    if (p.state === 'confirmed') expect(p.issuedTickets, `tickets of confirmed purchase ${p.id}`).toBe(p.wantedTickets);
    else expect(p.validTickets, `valid tickets of ${p.state} purchase ${p.id}`).toBe(0);
    if (p.holdRecordLeft !== null) expect(p.holdRecordLeft, `hold of ${p.state} purchase ${p.id}`).toBe(false);
  }
}

/**
 * The oversubscribed spike: `requests` concurrent hold requests of one ticket each for `sale.ga`,
 * spread over the given nodes' APIs, must hold exactly its capacity (everyone else 409); every hold
 * is then paid (sandbox, on the first node) and must end confirmed, with sold = tickets = capacity.
 */
export async function oversubscribedSpike(sql: Sql, sale: Sale, buyers: readonly Person[], apis: readonly string[], requests = 1000): Promise<void> {
  const [type] = await sql<{ capacity: number }[]>`select capacity from ticket_types where id = ${sale.ga}`;
  const capacity = type!.capacity;
  const plan = Array.from({ length: requests }, (_, i) => ({ buyer: buyers[i % buyers.length]!, api: apis[i % apis.length]! }));
  const results = await Promise.all(plan.map(({ buyer, api }) => buy(api, buyer, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ga, quantity: 1 }] })));
  const held = results.flatMap((r, i) => (r.status === 201 ? [{ r, buyer: plan[i]!.buyer }] : []));
  expect(held).toHaveLength(capacity);
  expect(new Set(results.map((r) => r.status))).toEqual(new Set([201, 409]));

  const paid = await Promise.all(
    held.map(({ r, buyer }) => {
      const paymentId = (r.body['payment'] as { paymentId: string }).paymentId;
      return call(`${apis[0]!}/sandbox/payments/${paymentId}/succeed`, { token: buyer.token, body: {} });
    }),
  );
  expect(paid.map((r) => r.status)).toEqual(paid.map(() => 200));
  for (const { r } of held) await settled(sql, r.body.id, ['confirmed']);
  const [after] = await sql<{ sold: number; tickets: number }[]>`
    select sold, (select count(*)::int from tickets where ticket_type_id = ${sale.ga}) as tickets from ticket_types where id = ${sale.ga}`;
  expect(after).toEqual({ sold: capacity, tickets: capacity });
}

export interface StartedHold {
  sale: Sale;
  who: Person;
  purchaseId: string;
  payment: { provider: string; paymentId: string; status: string; clientSecret: string | null; redirectUrl: string | null };
}

/** A fresh on-sale event with `capacity` standing tickets, and `who` holding `quantity` of them (201). */
export async function holdOnFreshEvent(sql: Sql, api: string, organizerId: string, who: Person, capacity: number, quantity: number): Promise<StartedHold> {
  const sale = await saleEvent(sql, organizerId, { capacity });
  const res = await buy(api, who, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ga, quantity }] });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { sale, who, purchaseId: res.body.id, payment: res.body['payment'] as StartedHold['payment'] };
}
