// The purchases API over real HTTP, on two server instances sharing one Postgres and one Redis:
// idempotency keys, bad input, the sandbox payment road (through the payment-events queue),
// cancels, who may read the transition log, promo codes under concurrency, and the spikes of the
// purchase issue (1,000 holds for 100 tickets, 300 overlapping seat requests). Every case ends by
// checking the promises.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { breakdown, priceOrder, requestHash } from '../../server/purchases/checkout.ts';
import { createPurchaseHost } from '../../server/purchases/index.ts';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '../helpers/databases.ts';
import { assertPromises, buy, oversubscribedSpike, people, saleEvent, settled, type Person } from '../helpers/purchases.ts';
import { call, startTestServer, type TestServer } from '../helpers/server.ts';

const SPIKE_ENV = {
  RATE_LIMIT_GLOBAL_PER_MINUTE: '1000000',
  RATE_LIMIT_PURCHASES_PER_USER_PER_MINUTE: '100000',
  POSTGRES_POOL_MAX: '10',
};

describe('purchases API', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let a: TestServer;
  let b: TestServer;
  let organizer: Person;
  let admin: Person;
  let buyers: Person[];

  beforeAll(async () => {
    [db, redis] = await Promise.all([createTestDatabase(), createTestRedis()]);
    [a, b] = await Promise.all([startTestServer(db, redis, SPIKE_ENV), startTestServer(db, redis, SPIKE_ENV)]);
    const [organizers, admins, customers] = await Promise.all([people(db.sql, 1, 'organizer'), people(db.sql, 1, 'admin'), people(db.sql, 250)]);
    organizer = organizers[0]!;
    admin = admins[0]!;
    buyers = customers;
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await Promise.all([db?.drop(), redis?.cleanup()]);
  });

  const available = async (sale: { eventId: string }, typeId: string) =>
    Number(await redis.client.get(`${redis.prefix}:{ev:${sale.eventId}}:avail:${typeId}`));
  const nobodyHolds = async (eventId: string) => (await redis.client.keys(`${redis.prefix}:{ev:${eventId}}:hold:*`)).length;

  it('holds, pays through the sandbox and issues tickets; the same key answers the same purchase', async () => {
    const sale = await saleEvent(db.sql, organizer.id, { capacity: 10 });
    const buyer = buyers[0]!;
    const key = randomUUID();
    const body = { eventId: sale.eventId, items: [{ ticketTypeId: sale.ga, quantity: 2 }] };
    const created = await buy(a.api, buyer, body, key);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({
      state: 'paying',
      amountMinor: 5000,
      currency: 'EUR',
      price: { subtotalMinor: 5000, discountMinor: 0, totalMinor: 5000, lines: [{ name: 'Standing', quantity: 2, unitPriceMinor: 2500 }] },
      payment: { provider: 'sandbox' },
    });
    const expiresAt = Date.parse(created.body['holdExpiresAt'] as string);
    expect(expiresAt).toBeGreaterThan(Date.now() + 9 * 60_000);
    expect(await available(sale, sale.ga)).toBe(8);

    // Same key and body, on the other instance: the same purchase, 200, nothing new held.
    const again = await buy(b.api, buyer, body, key);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(created.body.id);
    expect(again.body['holdExpiresAt']).toBe(created.body['holdExpiresAt']);
    expect(await available(sale, sale.ga)).toBe(8);
    // Same key, other body: 422, and still nothing new.
    const other = await buy(a.api, buyer, { ...body, items: [{ ticketTypeId: sale.ga, quantity: 3 }] }, key);
    expect(other.status).toBe(422);
    expect(other.body).toMatchObject({ error: { code: 'unprocessable' } });

    const paymentId = (created.body['payment'] as { paymentId: string }).paymentId;
    const seen = await call(`${b.api}/sandbox/payments/${paymentId}`, { token: buyer.token });
    expect(seen.body).toMatchObject({ status: 'pending', amountMinor: 5000, purchaseId: created.body.id });
    expect((await call(`${b.api}/sandbox/payments/${paymentId}`, { token: buyers[1]!.token })).status).toBe(404);
    const paid = await call(`${b.api}/sandbox/payments/${paymentId}/succeed`, { token: buyer.token, body: {} });
    expect(paid.status).toBe(200);
    expect((await call(`${b.api}/sandbox/payments/${paymentId}/succeed`, { token: buyer.token, body: {} })).status).toBe(409);

    expect(await settled(db.sql, created.body.id, ['confirmed'])).toBe('confirmed');
    const view = await call<{ state: string; history: { from: string | null; to: string; event: string }[] }>(
      `${a.api}/purchases/${created.body.id}`,
      { token: buyer.token },
    );
    expect(view.body.state).toBe('confirmed');
    expect(view.body.history.map((h) => `${h.from ?? '-'}>${h.to}`)).toEqual(['->reserving', 'reserving>held', 'held>paying', 'paying>confirming', 'confirming>confirmed']);
    const [type] = await db.sql<{ sold: number }[]>`select sold from ticket_types where id = ${sale.ga}`;
    expect(type!.sold).toBe(2);
    expect(await available(sale, sale.ga)).toBe(8);

    // A paid purchase cannot be cancelled.
    const cancel = await call(`${a.api}/purchases/${created.body.id}/cancel`, { token: buyer.token, body: {} });
    expect(cancel.status).toBe(409);
    expect(cancel.body).toMatchObject({ error: { code: 'conflict', details: { state: 'confirmed' } } });
    await assertPromises(db.sql, redis, sale.eventId);
  });

  it('shows the transition log to the buyer, the organizer and admins only', async () => {
    const sale = await saleEvent(db.sql, organizer.id, { capacity: 5 });
    const buyer = buyers[2]!;
    const created = await buy(a.api, buyer, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ga, quantity: 1 }] });
    const url = `${b.api}/purchases/${created.body.id}/transitions`;
    for (const who of [buyer, organizer, admin]) {
      const res = await call<{ items: { seq: number; to: string }[] }>(url, { token: who.token });
      expect(res.status).toBe(200);
      expect(res.body.items.map((i) => i.to)).toEqual(['reserving', 'held', 'paying']);
    }
    const [otherOrganizer] = await people(db.sql, 1, 'organizer');
    expect((await call(url, { token: buyers[3]!.token })).status).toBe(404);
    expect((await call(url, { token: otherOrganizer!.token })).status).toBe(404);
    expect((await call(url)).status).toBe(401);
    // Only the buyer cancels, and cancelling gives the hold back at once.
    expect((await call(`${a.api}/purchases/${created.body.id}/cancel`, { token: organizer.token, body: {} })).status).toBe(404);
    const cancelled = await call(`${a.api}/purchases/${created.body.id}/cancel`, { token: buyer.token, body: {} });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ state: 'cancelled' });
    expect((await call(`${b.api}/purchases/${created.body.id}/cancel`, { token: buyer.token, body: {} })).body).toMatchObject({ state: 'cancelled' });
    expect(await available(sale, sale.ga)).toBe(5);
    await assertPromises(db.sql, redis, sale.eventId);
  });

  it('the public catalog shows what purchases hold and sold', async () => {
    const sale = await saleEvent(db.sql, organizer.id, { capacity: 6, seats: 3 });
    const held = await buy(a.api, buyers[70]!, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ga, quantity: 2 }] });
    const seated = await buy(b.api, buyers[71]!, { eventId: sale.eventId, items: [{ ticketTypeId: sale.seated, seatIds: sale.seatIds.slice(0, 2) }] });
    await call(`${a.api}/sandbox/payments/${(seated.body['payment'] as { paymentId: string }).paymentId}/succeed`, { token: buyers[71]!.token, body: {} });
    await settled(db.sql, seated.body.id, ['confirmed']);
    const detail = await call<{ ticketTypes: { id: string; available: number }[] }>(`${a.api}/events/${sale.eventId}`);
    expect(detail.status).toBe(200);
    expect(Object.fromEntries(detail.body.ticketTypes.map((t) => [t.id, t.available]))).toEqual({ [sale.ga]: 4, [sale.seated]: 1 });
    const map = await call<{ counts: Record<string, number> }>(`${b.api}/events/${sale.eventId}/seat-map`);
    expect(map.body.counts).toEqual({ free: 1, held: 0, sold: 2, blocked: 0 });
    const another = await buy(a.api, buyers[72]!, { eventId: sale.eventId, items: [{ ticketTypeId: sale.seated, seatIds: [sale.seatIds[2]!] }] });
    expect(another.status).toBe(201);
    const after = await call<{ counts: Record<string, number> }>(`${b.api}/events/${sale.eventId}/seat-map`);
    expect(after.body.counts).toEqual({ free: 0, held: 1, sold: 2, blocked: 0 });
    expect(held.status).toBe(201);
    await assertPromises(db.sql, redis, sale.eventId);
  });

  it('a declined sandbox payment ends in payment_failed and gives the tickets back', async () => {
    const sale = await saleEvent(db.sql, organizer.id, { capacity: 3 });
    const buyer = buyers[4]!;
    const created = await buy(b.api, buyer, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ga, quantity: 3 }] });
    expect(await available(sale, sale.ga)).toBe(0);
    const paymentId = (created.body['payment'] as { paymentId: string }).paymentId;
    expect((await call(`${a.api}/sandbox/payments/${paymentId}/fail`, { token: buyer.token, body: {} })).status).toBe(200);
    expect(await settled(db.sql, created.body.id, ['payment_failed'])).toBe('payment_failed');
    expect(await available(sale, sale.ga)).toBe(3);
    await assertPromises(db.sql, redis, sale.eventId);
  });

  it('a retried hold carries on what its first try left undone (cut off halfway), instead of answering without a payment', async () => {
    const sale = await saleEvent(db.sql, organizer.id, { capacity: 5 });
    const buyer = buyers[80]!;
    const key = randomUUID();
    const body = { eventId: sale.eventId, items: [{ ticketTypeId: sale.ga, quantity: 1 }] };
    // The first try wrote the purchase, then lost its stores before the hold was placed (its answer
    // was a 503): the purchase waits in reserving with its hold undone.
    const order = await priceOrder(db.sql, body);
    const cutOff = createPurchaseHost({ sql: db.sql, log: pino({ level: 'silent' }), runEffect: () => Promise.reject(new Error('the database went away')) });
    const first = await cutOff.start({
      purchaseId: randomUUID(),
      eventId: sale.eventId,
      customerId: buyer.id,
      items: order.items,
      amountMinor: order.amountMinor,
      currency: order.currency,
      idempotencyKey: key,
      requestHash: requestHash(body),
      pricing: breakdown(order),
    });
    expect(first.state).toBe('reserving');
    expect(await nobodyHolds(sale.eventId)).toBe(0);

    const retried = await buy(b.api, buyer, body, key);
    expect(retried.status, JSON.stringify(retried.body)).toBe(200);
    expect(retried.body).toMatchObject({ id: first.id, state: 'paying', payment: { provider: 'sandbox', status: 'pending' } });
    expect(await available(sale, sale.ga)).toBe(4);
    // Once more: nothing new held, the same payment.
    const again = await buy(a.api, buyer, body, key);
    expect(again.body).toMatchObject({ id: first.id, state: 'paying', payment: retried.body['payment'] });
    expect(await available(sale, sale.ga)).toBe(4);
    expect((await call(`${a.api}/purchases/${first.id}/cancel`, { token: buyer.token, body: {} })).status).toBe(200);
    expect(await settled(db.sql, first.id, ['cancelled'])).toBe('cancelled');
    await assertPromises(db.sql, redis, sale.eventId);
  });

  it('refuses bad input with a 4xx and the stable error body, and holds nothing', async () => {
    const sale = await saleEvent(db.sql, organizer.id, { capacity: 10, seats: 4, perOrderMax: 4 });
    const other = await saleEvent(db.sql, organizer.id, { capacity: 10, seats: 2 });
    const [closedType] = await db.sql<{ id: string }[]>`
      insert into ticket_types (event_id, name, kind, price_minor, currency, capacity, status)
      values (${sale.eventId}, 'Closed', 'general', 100, 'EUR', 5, 'closed') returning id`;
    const [notYet] = await db.sql<{ id: string }[]>`
      insert into events (organizer_id, slug, title, timezone, starts_at, ends_at, sales_start_at, sales_end_at, status, published_at)
      values (${organizer.id}, ${`later-${randomUUID().slice(0, 6)}`}, 'Later', 'UTC', now() + interval '20 days', now() + interval '21 days',
              now() + interval '1 day', now() + interval '19 days', 'published', now()) returning id`;
    const [laterType] = await db.sql<{ id: string }[]>`
      insert into ticket_types (event_id, name, kind, price_minor, currency, capacity) values (${notYet!.id}, 'GA', 'general', 100, 'EUR', 5) returning id`;
    await db.sql`
      insert into promo_codes (event_id, code, discount_kind, percent_off, valid_until, valid_from)
      values (${sale.eventId}, 'OLD', 'percent', 10, now() - interval '1 day', now() - interval '2 days')`;
    await db.sql`insert into promo_codes (event_id, code, discount_kind, percent_off, max_uses, uses) values (${sale.eventId}, 'GONE', 'percent', 10, 1, 1)`;
    await db.sql`insert into promo_codes (event_id, code, discount_kind, percent_off) values (${other.eventId}, 'THEIRS', 'percent', 10)`;
    const buyer = buyers[5]!;
    const ga = (quantity: unknown) => ({ eventId: sale.eventId, items: [{ ticketTypeId: sale.ga, quantity }] });
    const cases: [string, Record<string, unknown>, number, string?][] = [
      ['quantity 0', ga(0), 400],
      ['negative quantity', ga(-2), 400],
      ['fractional quantity', ga(1.5), 400],
      ['over the per-order limit', ga(5), 400],
      ['unknown ticket type', { eventId: sale.eventId, items: [{ ticketTypeId: randomUUID(), quantity: 1 }] }, 400],
      ['ticket type of another event', { eventId: sale.eventId, items: [{ ticketTypeId: other.ga, quantity: 1 }] }, 400],
      ['closed ticket type', { eventId: sale.eventId, items: [{ ticketTypeId: closedType!.id, quantity: 1 }] }, 409, 'not_on_sale'],
      ['sales window not open', { eventId: notYet!.id, items: [{ ticketTypeId: laterType!.id, quantity: 1 }] }, 409, 'not_on_sale'],
      ['unknown event', { eventId: randomUUID(), items: [{ ticketTypeId: sale.ga, quantity: 1 }] }, 404],
      ['seats of another event', { eventId: sale.eventId, items: [{ ticketTypeId: sale.seated, seatIds: [other.seatIds[0]] }] }, 400],
      ['a seat twice', { eventId: sale.eventId, items: [{ ticketTypeId: sale.seated, seatIds: [sale.seatIds[0], sale.seatIds[0]] }] }, 400],
      ['seats on general admission', { eventId: sale.eventId, items: [{ ticketTypeId: sale.ga, quantity: 1, seatIds: [sale.seatIds[0]] }] }, 400],
      ['seated without seats', { eventId: sale.eventId, items: [{ ticketTypeId: sale.seated, quantity: 1 }] }, 400],
      ['not a seat id', { eventId: sale.eventId, items: [{ ticketTypeId: sale.seated, seatIds: ['A-1'] }] }, 400],
      ['a ticket type twice', { eventId: sale.eventId, items: [{ ticketTypeId: sale.ga, quantity: 1 }, { ticketTypeId: sale.ga, quantity: 1 }] }, 400],
      ['no items', { eventId: sale.eventId, items: [] }, 400],
      ['unknown field', { ...ga(1), price: 1 }, 400],
      ['expired promo code', { ...ga(1), promoCode: 'OLD' }, 400],
      ['exhausted promo code', { ...ga(1), promoCode: 'GONE' }, 409, 'promo_exhausted'],
      ['promo code of another event', { ...ga(1), promoCode: 'THEIRS' }, 400],
      ['malformed promo code', { ...ga(1), promoCode: 'no spaces!' }, 400],
    ];
    for (const [name, body, status, reason] of cases) {
      const res = await buy(a.api, buyer, body);
      expect(res.status, `${name}: ${JSON.stringify(res.body)}`).toBe(status);
      const error = (res.body as unknown as { error: { code: unknown; message: unknown } }).error;
      expect([typeof error.code, typeof error.message], name).toEqual(['string', 'string']);
      if (reason) expect(res.body, name).toMatchObject({ error: { details: { reason } } });
    }
    const missingKey = await call(`${a.api}/purchases`, { token: buyer.token, body: ga(1) });
    expect(missingKey.status).toBe(400);
    expect(missingKey.body).toMatchObject({ error: { code: 'validation_failed' } });
    const shortKey = await buy(a.api, buyer, ga(1), 'short');
    expect(shortKey.status).toBe(400);
    const anonymous = await call(`${a.api}/purchases`, { body: ga(1), headers: { 'idempotency-key': randomUUID() } });
    expect(anonymous.status).toBe(401);
    const malformed = await fetch(`${a.api}/purchases`, {
      method: 'POST',
      headers: { authorization: `Bearer ${buyer.token}`, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
      body: '{"eventId":',
    });
    expect(malformed.status).toBe(400);
    for (const id of ['not-a-uuid', randomUUID()]) {
      expect((await call(`${a.api}/purchases/${id}`, { token: buyer.token })).status).toBe(id === 'not-a-uuid' ? 400 : 404);
      expect((await call(`${a.api}/purchases/${id}/cancel`, { token: buyer.token, body: {} })).status).toBe(id === 'not-a-uuid' ? 400 : 404);
    }
    expect((await call(`${a.api}/sandbox/payments/nope/succeed`, { token: buyer.token, body: {} })).status).toBe(400);

    const [written] = await db.sql<{ n: number }[]>`select count(*)::int as n from purchases where event_id in (${sale.eventId}, ${notYet!.id})`;
    expect(written!.n).toBe(0);
    expect(await nobodyHolds(sale.eventId)).toBe(0);
    const [gone] = await db.sql<{ uses: number }[]>`select uses from promo_codes where code = 'GONE'`;
    expect(gone!.uses).toBe(1);
  });

  it('enforces the per-customer limit under concurrency, and a sold-out hold is a 409', async () => {
    const sale = await saleEvent(db.sql, organizer.id, { capacity: 100 });
    const buyer = buyers[6]!;
    // The default limit is 20 per customer per event: 12 racing orders of 2 let exactly 10 through.
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => buy(i % 2 ? a.api : b.api, buyer, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ga, quantity: 2 }] })),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(10);
    const refused = results.filter((r) => r.status !== 201);
    expect(refused.map((r) => r.status)).toEqual([409, 409]);
    expect(refused[0]!.body).toMatchObject({ error: { details: { reason: 'customer_limit' } } });

    const small = await saleEvent(db.sql, organizer.id, { capacity: 1 });
    expect((await buy(a.api, buyers[7]!, { eventId: small.eventId, items: [{ ticketTypeId: small.ga, quantity: 1 }] })).status).toBe(201);
    const late = await buy(b.api, buyers[8]!, { eventId: small.eventId, items: [{ ticketTypeId: small.ga, quantity: 1 }] });
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ error: { code: 'conflict', details: { reason: 'sold_out' } } });
    // Redis already said "sold out": refused before any purchase was written.
    const [written] = await db.sql<{ n: number }[]>`select count(*)::int as n from purchases where event_id = ${small.eventId}`;
    expect(written!.n).toBe(1);
    await assertPromises(db.sql, redis, sale.eventId);
    await assertPromises(db.sql, redis, small.eventId);
  });

  it('a promo code with max uses lets exactly that many through under concurrency, and gets uses back', async () => {
    const sale = await saleEvent(db.sql, organizer.id, { capacity: 100 });
    await db.sql`insert into promo_codes (event_id, code, discount_kind, percent_off, max_uses) values (${sale.eventId}, 'EARLY', 'percent', 20, 5)`;
    const racers = buyers.slice(10, 50);
    const results = await Promise.all(
      racers.map((buyer, i) =>
        buy(i % 2 ? a.api : b.api, buyer, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ga, quantity: 1 }], promoCode: 'early' }),
      ),
    );
    const won = results.filter((r) => r.status === 201);
    expect(won).toHaveLength(5);
    expect(won[0]!.body).toMatchObject({ amountMinor: 2000, price: { subtotalMinor: 2500, discountMinor: 500, promoCode: 'EARLY', totalMinor: 2000 } });
    for (const r of results.filter((x) => x.status !== 201)) {
      expect(r.status).toBe(409);
      expect(r.body).toMatchObject({ error: { details: { reason: 'promo_exhausted' } } });
    }
    const [code] = await db.sql<{ uses: number }[]>`select uses from promo_codes where event_id = ${sale.eventId}`;
    expect(code!.uses).toBe(5);

    // A winner cancels: the use comes back, once, and the next buyer gets it.
    const winner = racers[results.indexOf(won[0]!)]!;
    await call(`${a.api}/purchases/${won[0]!.body.id}/cancel`, { token: winner.token, body: {} });
    await call(`${b.api}/purchases/${won[0]!.body.id}/cancel`, { token: winner.token, body: {} });
    const [after] = await db.sql<{ uses: number }[]>`select uses from promo_codes where event_id = ${sale.eventId}`;
    expect(after!.uses).toBe(4);
    const next = await buy(b.api, buyers[60]!, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ga, quantity: 1 }], promoCode: 'EARLY' });
    expect(next.status).toBe(201);
    await assertPromises(db.sql, redis, sale.eventId);
  });

  it('1,000 concurrent hold requests for 100 tickets over two instances: exactly 100 held, then exactly 100 sold', async () => {
    const sale = await saleEvent(db.sql, organizer.id, { capacity: 100 });
    await oversubscribedSpike(db.sql, sale, buyers.slice(0, 200), [a.api, b.api]);
    expect(await available(sale, sale.ga)).toBe(0);
    expect(await nobodyHolds(sale.eventId)).toBe(0);
    await assertPromises(db.sql, redis, sale.eventId);
  });

  it('300 concurrent requests for overlapping seats: each gets all its seats or none, no seat twice', async () => {
    const sale = await saleEvent(db.sql, organizer.id, { capacity: 0, seats: 60, perOrderMax: 4 });
    // Request i wants 2-4 neighbouring seats starting somewhere in the row block: heavy overlap.
    const wants = Array.from({ length: 300 }, (_, i) => {
      const size = 2 + (i % 3);
      const start = (i * 7) % (60 - size);
      return sale.seatIds.slice(start, start + size);
    });
    const results = await Promise.all(
      wants.map((seatIds, i) => buy(i % 2 ? a.api : b.api, buyers[i % 250]!, { eventId: sale.eventId, items: [{ ticketTypeId: sale.seated, seatIds }] })),
    );
    const winners = results.map((r, i) => ({ r, seats: wants[i]! })).filter((x) => x.r.status === 201);
    expect(winners.length).toBeGreaterThan(0);
    for (const r of results) expect([201, 409]).toContain(r.status);
    const claimed = winners.flatMap((w) => w.seats);
    expect(new Set(claimed).size).toBe(claimed.length);
    for (const w of winners) {
      const owners = await redis.client.mget(...w.seats.map((s) => `${redis.prefix}:{ev:${sale.eventId}}:seat:${s}`));
      expect(owners).toEqual(w.seats.map(() => w.r.body.id));
    }
    await Promise.all(
      winners.map((w) => {
        const buyer = buyers[results.indexOf(w.r) % 250]!;
        return call(`${b.api}/sandbox/payments/${(w.r.body['payment'] as { paymentId: string }).paymentId}/succeed`, { token: buyer.token, body: {} });
      }),
    );
    for (const w of winners) await settled(db.sql, w.r.body.id, ['confirmed']);
    const [sold] = await db.sql<{ n: number }[]>`select count(*)::int as n from tickets where event_id = ${sale.eventId}`;
    expect(sold!.n).toBe(claimed.length);
    await assertPromises(db.sql, redis, sale.eventId);
  });

  it('a Redis flush mid-sale oversells nothing: counts and seats are rebuilt from Postgres', async () => {
    const sale = await saleEvent(db.sql, organizer.id, { capacity: 10, seats: 4 });
    const early = await Promise.all(
      buyers.slice(100, 104).map((buyer) => buy(a.api, buyer, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ga, quantity: 2 }] })),
    );
    const seatBuyer = buyers[104]!;
    const seatHold = await buy(a.api, seatBuyer, { eventId: sale.eventId, items: [{ ticketTypeId: sale.seated, seatIds: sale.seatIds.slice(0, 2) }] });
    expect([...early, seatHold].map((r) => r.status)).toEqual([201, 201, 201, 201, 201]);

    // Everything this test's servers keep in Redis is gone: holds, counts, seats, fences, queues.
    const keys = await redis.client.keys(`${redis.prefix}:*`);
    await redis.client.del(...keys);

    // New buyers after the flush: the counts come back as capacity - sold - live holds (10 - 8 = 2).
    const late = await Promise.all(
      buyers.slice(110, 116).map((buyer, i) => buy(i % 2 ? a.api : b.api, buyer, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ga, quantity: 1 }] })),
    );
    expect(late.filter((r) => r.status === 201)).toHaveLength(2);
    // The held seats were put back: nobody else gets them.
    const grab = await buy(b.api, buyers[117]!, { eventId: sale.eventId, items: [{ ticketTypeId: sale.seated, seatIds: [sale.seatIds[1]!] }] });
    expect(grab.status).toBe(409);
    expect(grab.body).toMatchObject({ error: { details: { reason: 'seat_taken' } } });

    // The early buyers pay: their holds vanished, but capacity allows, so they complete.
    const payers: [Person, (typeof early)[number]][] = [...early.map((r, i) => [buyers[100 + i]!, r] as [Person, typeof r]), [seatBuyer, seatHold]];
    for (const [buyer, r] of payers) {
      await call(`${a.api}/sandbox/payments/${(r.body['payment'] as { paymentId: string }).paymentId}/succeed`, { token: buyer.token, body: {} });
    }
    for (const [, r] of payers) expect(await settled(db.sql, r.body.id, ['confirmed', 'refunded'])).toBe('confirmed');
    const [ga] = await db.sql<{ sold: number }[]>`select sold from ticket_types where id = ${sale.ga}`;
    expect(ga!.sold).toBe(8);
    await assertPromises(db.sql, redis, sale.eventId);
  });
});
