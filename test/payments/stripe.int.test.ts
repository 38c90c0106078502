// Stripe end to end, with the real SDK against a local stand-in of Stripe's API and webhooks
// signed by the SDK: PaymentIntents per purchase, duplicate and concurrent webhooks with one
// effect, forged / altered / stale webhooks refused, events ignored when they do not fit,
// reconciliation of a lost webhook, late success (issued or refunded), refunds per ticket and in
// full, and an event's cancellation refunding its purchases. No money is left without a ticket or
// a refund after any of it.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '../helpers/databases.ts';
import { deliverStripeWebhook, FAKE_STRIPE_KEY, FAKE_STRIPE_WEBHOOK_SECRET, startFakeStripe, type FakeStripe } from '../helpers/fake-stripe.ts';
import { assertPromises, buy, holdOnFreshEvent, people, saleEvent, settled, type Person } from '../helpers/purchases.ts';
import { call, startTestServer, type TestServer } from '../helpers/server.ts';

describe('Stripe payments', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let stripe: FakeStripe;
  let node: TestServer;
  let late: TestServer;
  let organizer: Person;
  let buyers: Person[];
  let nextBuyer = 0;
  const buyer = () => buyers[nextBuyer++]!;

  beforeAll(async () => {
    [db, redis, stripe] = await Promise.all([createTestDatabase(), createTestRedis(), startFakeStripe()]);
    const env = {
      PAYMENT_PROVIDER: 'stripe',
      STRIPE_SECRET_KEY: FAKE_STRIPE_KEY,
      STRIPE_WEBHOOK_SECRET: FAKE_STRIPE_WEBHOOK_SECRET,
      STRIPE_API_URL: stripe.url,
      SWEEP_INTERVAL_SECONDS: '3600',
      PAYMENT_RECONCILE_AFTER_SECONDS: '1',
      RATE_LIMIT_WEBHOOKS_PER_MINUTE: '10000',
    };
    // `late` holds for one second, to see payments land after the hold ended.
    [node, late] = await Promise.all([startTestServer(db, redis, env), startTestServer(db, redis, { ...env, HOLD_TTL_SECONDS: '1' })]);
    const [organizers, customers] = await Promise.all([people(db.sql, 1, 'organizer'), people(db.sql, 40)]);
    organizer = organizers[0]!;
    buyers = customers;
  });
  afterAll(async () => {
    await Promise.all([node?.stop(), late?.stop()]);
    await Promise.all([db?.drop(), redis?.cleanup(), stripe?.close()]);
  });

  const paymentOf = (body: Record<string, unknown>) => body['payment'] as { paymentId: string; clientSecret: string | null; status: string };
  const nothingUnaccounted = async () => expect(await node.server.purchases.payments.paidWithoutTicketOrRefund()).toBe(0);
  const transitionsOf = async (purchaseId: string) =>
    (await db.sql<{ event_type: string; to_state: string }[]>`
      select event_type, to_state from purchase_transitions where purchase_id = ${purchaseId} order by seq`).map((r) => `${r.event_type}>${r.to_state}`);

  const holdAndStart = (capacity = 10, quantity = 2, server: TestServer = node) => holdOnFreshEvent(db.sql, server.api, organizer.id, buyer(), capacity, quantity);

  it('creates one PaymentIntent per purchase; the same webhook 10 times, or 10 at once, has one effect', async () => {
    const { sale, purchaseId, payment } = await holdAndStart(10, 2);
    const intent = stripe.intents.get(payment.paymentId)!;
    expect(intent).toMatchObject({ amount: 5000, currency: 'eur', metadata: { purchaseId }, status: 'requires_payment_method' });
    expect(payment.clientSecret).toBe(intent.client_secret);
    const create = stripe.requests.find((r) => r.path === '/v1/payment_intents' && r.method === 'POST');
    expect(create?.idempotencyKey).toMatch(new RegExp(`^${purchaseId}:`));

    const signed = stripe.sign(stripe.pay(payment.paymentId));
    const answers = [];
    for (let i = 0; i < 10; i++) answers.push(await deliverStripeWebhook(node.api, signed.body, signed.signature));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(answers.filter((a) => a.body['duplicate'] === true)).toHaveLength(9);
    expect(await settled(db.sql, purchaseId, ['confirmed'])).toBe('confirmed');
    // Out of order: a failure report after the success changes nothing.
    const failedAfter = stripe.sign(stripe.event('payment_intent.payment_failed', { ...stripe.intents.get(payment.paymentId)!, last_payment_error: { code: 'card_declined' } }));
    expect((await deliverStripeWebhook(node.api, failedAfter.body, failedAfter.signature)).status).toBe(200);

    const second = await holdAndStart(10, 1);
    const signedTwice = stripe.sign(stripe.pay(second.payment.paymentId));
    const together = await Promise.all(Array.from({ length: 10 }, (_, i) => deliverStripeWebhook(i % 2 ? node.api : late.api, signedTwice.body, signedTwice.signature)));
    expect(together.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(together.filter((a) => a.body['duplicate'] === false)).toHaveLength(1);
    expect(await settled(db.sql, second.purchaseId, ['confirmed'])).toBe('confirmed');
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const id of [purchaseId, second.purchaseId]) {
      expect((await transitionsOf(id)).filter((t) => t.startsWith('payment.succeeded'))).toHaveLength(1);
    }
    const [stored] = await db.sql<{ n: number }[]>`select count(*)::int as n from webhook_events where provider = 'stripe' and outcome = 'processed'`;
    expect(stored!.n).toBe(3);
    const [row] = await db.sql<{ state: string }[]>`select state from purchases where id = ${purchaseId}`;
    expect(row!.state).toBe('confirmed');
    await assertPromises(db.sql, redis, sale.eventId);
    await assertPromises(db.sql, redis, second.sale.eventId);
    await nothingUnaccounted();
  });

  it('refuses forged, altered, stale and unsigned webhooks with 400, changing nothing', async () => {
    const { sale, purchaseId, payment } = await holdAndStart(5, 1);
    const event = stripe.pay(payment.paymentId);
    const genuine = stripe.sign(event);
    const [before] = await db.sql<{ n: number }[]>`select count(*)::int as n from webhook_events`;
    const forged = stripe.sign(event, { secret: 'whsec_someoneelse0000' });
    const stale = stripe.sign(event, { timestamp: Math.floor(Date.now() / 1000) - 400 });
    const altered = genuine.body.replace('"amount":2500', '"amount":2501');
    expect(altered).not.toBe(genuine.body);
    const attempts: [string, string, string | null][] = [
      ['forged', forged.body, forged.signature],
      ['stale', stale.body, stale.signature],
      ['altered by one byte', altered, genuine.signature],
      ['unsigned', genuine.body, null],
      ['garbage signature', genuine.body, 't=1,v1=deadbeef'],
      ['not JSON', 'not json at all', stripe.sign({}).signature],
    ];
    for (const [name, body, signature] of attempts) {
      const res = await deliverStripeWebhook(node.api, body, signature);
      expect(res.status, name).toBe(400);
      expect(res.body, name).toMatchObject({ error: { code: 'bad_request', message: 'webhook rejected' } });
    }
    const [after] = await db.sql<{ n: number }[]>`select count(*)::int as n from webhook_events`;
    expect(after!.n).toBe(before!.n);
    const [row] = await db.sql<{ state: string }[]>`select state from purchases where id = ${purchaseId}`;
    expect(row!.state).toBe('paying');

    expect((await deliverStripeWebhook(node.api, genuine.body, genuine.signature)).status).toBe(200);
    expect(await settled(db.sql, purchaseId, ['confirmed'])).toBe('confirmed');
    await assertPromises(db.sql, redis, sale.eventId);
  });

  it('stores and ignores events that do not fit: other types, unknown purchases, wrong amounts', async () => {
    const { purchaseId, payment } = await holdAndStart(5, 1);
    const otherEvent = stripe.event('customer.created', { id: 'cus_1', object: 'customer' });
    const other = stripe.sign(otherEvent);
    expect((await deliverStripeWebhook(node.api, other.body, other.signature)).status).toBe(200);

    const stranger = { ...stripe.intents.get(payment.paymentId)!, id: 'pi_not_ours', metadata: { purchaseId: randomUUID() }, status: 'succeeded' };
    const unknown = stripe.event('payment_intent.succeeded', stranger);
    const unknownSigned = stripe.sign(unknown);
    expect((await deliverStripeWebhook(node.api, unknownSigned.body, unknownSigned.signature)).status).toBe(200);

    const cheap = stripe.event('payment_intent.succeeded', { ...stripe.intents.get(payment.paymentId)!, status: 'succeeded', amount: 1, amount_received: 1 });
    const cheapSigned = stripe.sign(cheap);
    expect((await deliverStripeWebhook(node.api, cheapSigned.body, cheapSigned.signature)).status).toBe(200);

    await expect
      .poll(async () => (await db.sql<{ event_id: string }[]>`select event_id from webhook_events where outcome = 'ignored'`).map((r) => r.event_id).sort())
      .toEqual(expect.arrayContaining([cheap.id, unknown.id, otherEvent.id]));
    const reasons = await db.sql<{ event_id: string; reason: string }[]>`select event_id, reason from webhook_events where event_id in (${cheap.id}, ${unknown.id})`;
    expect(Object.fromEntries(reasons.map((r) => [r.event_id, r.reason]))).toEqual({
      [unknown.id]: 'no purchase of ours has this payment',
      [cheap.id]: "amount 1 EUR does not match the payment's 2500 EUR",
    });
    const [row] = await db.sql<{ state: string }[]>`select state from purchases where id = ${purchaseId}`;
    expect(row!.state).toBe('paying');
  });

  it('a lost webhook is repaired by reconciliation (paid, and declined)', async () => {
    const paid = await holdAndStart(5, 1);
    const declined = await holdAndStart(5, 1);
    stripe.pay(paid.payment.paymentId);
    stripe.decline(declined.payment.paymentId);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await node.server.purchases.sweep();
    expect(await settled(db.sql, paid.purchaseId, ['confirmed'])).toBe('confirmed');
    expect(await settled(db.sql, declined.purchaseId, ['payment_failed'])).toBe('payment_failed');
    await assertPromises(db.sql, redis, paid.sale.eventId);
    await assertPromises(db.sql, redis, declined.sale.eventId);
    await nothingUnaccounted();
  });

  it('money that lands as the hold ends: tickets when the units are still free, a refund when they are gone', async () => {
    // The buyer pays at the very moment the hold expires: Stripe refuses the cancel (succeeded).
    const free = await holdAndStart(1, 1, late);
    stripe.onNextCancel((intent) => void stripe.pay(intent.id));
    expect(await settled(db.sql, free.purchaseId, ['confirmed', 'refunded'])).toBe('confirmed');
    expect(await transitionsOf(free.purchaseId)).toContain('hold.expired>expired');

    // Same race, but someone else took the last ticket in between: the money goes back.
    const gone = await holdAndStart(1, 1, late);
    let rival: Awaited<ReturnType<typeof buy>> | null = null;
    stripe.onNextCancel(async (intent) => {
      stripe.pay(intent.id);
      rival = await buy(node.api, buyer(), { eventId: gone.sale.eventId, items: [{ ticketTypeId: gone.sale.ga, quantity: 1 }] });
    });
    expect(await settled(db.sql, gone.purchaseId, ['confirmed', 'refunded'])).toBe('refunded');
    expect(rival!.status).toBe(201);
    expect(stripe.refunds.filter((r) => r.payment_intent === gone.payment.paymentId)).toEqual([expect.objectContaining({ amount: 2500 })]);
    await assertPromises(db.sql, redis, free.sale.eventId);
    await assertPromises(db.sql, redis, gone.sale.eventId);
    await nothingUnaccounted();
  });

  it('refunds per ticket and in full: tickets voided, inventory back, transitions record it', async () => {
    const { sale, who, purchaseId, payment } = await holdAndStart(10, 3);
    const signed = stripe.sign(stripe.pay(payment.paymentId));
    await deliverStripeWebhook(node.api, signed.body, signed.signature);
    await settled(db.sql, purchaseId, ['confirmed']);
    const tickets = await db.sql<{ id: string }[]>`select id from tickets where purchase_id = ${purchaseId} order by id`;
    const url = `${node.api}/organizer/events/${sale.eventId}/purchases/${purchaseId}/refunds`;
    const available = async () => Number(await redis.client.get(`${redis.prefix}:{ev:${sale.eventId}}:avail:${sale.ga}`));
    expect(await available()).toBe(7);

    // Who may not, and what may not be asked.
    const [stranger] = await people(db.sql, 1, 'organizer');
    expect((await call(url, { token: stranger!.token, body: { reason: 'not mine' } })).status).toBe(404);
    expect((await call(url, { token: who.token, body: { reason: 'I want' } })).status).toBe(403);
    expect((await call(url, { token: organizer.token, body: { reason: 'x', ticketIds: [randomUUID()] } })).status).toBe(400);
    expect((await call(url, { token: organizer.token, body: { reason: '' } })).status).toBe(400);
    expect((await call(url, { token: organizer.token, body: { reason: 'x', ticketIds: [tickets[0]!.id, tickets[0]!.id] } })).status).toBe(400);

    const partial = await call(url, { token: organizer.token, body: { reason: 'one cannot come', ticketIds: [tickets[0]!.id] } });
    expect(partial.status, JSON.stringify(partial.body)).toBe(200);
    expect(partial.body).toMatchObject({ state: 'confirmed' });
    await expect.poll(() => stripe.refunds.filter((r) => r.payment_intent === payment.paymentId).map((r) => r.amount)).toEqual([2500]);
    const [voided] = await db.sql<{ status: string }[]>`select status from tickets where id = ${tickets[0]!.id}`;
    expect(voided!.status).toBe('void');
    expect(await available()).toBe(8);
    // Naming a voided ticket again is refused; refunding the rest is the full refund.
    expect((await call(url, { token: organizer.token, body: { reason: 'again', ticketIds: [tickets[0]!.id] } })).status).toBe(400);

    const full = await call(url, { token: organizer.token, body: { reason: 'all of it' } });
    expect(full.status).toBe(200);
    expect(await settled(db.sql, purchaseId, ['refunded'])).toBe('refunded');
    expect(stripe.refunds.filter((r) => r.payment_intent === payment.paymentId).map((r) => r.amount)).toEqual([2500, 5000]);
    expect(await available()).toBe(10);
    const [type] = await db.sql<{ sold: number }[]>`select sold from ticket_types where id = ${sale.ga}`;
    expect(type!.sold).toBe(0);
    expect((await transitionsOf(purchaseId)).slice(-3)).toEqual(['refund.requested>confirmed', 'refund.requested>refunding', 'refund.succeeded>refunded']);
    expect((await call(url, { token: organizer.token, body: { reason: 'once more' } })).status).toBe(409);
    await assertPromises(db.sql, redis, sale.eventId);
    await nothingUnaccounted();
  });

  it('cancelling an event refunds its paid purchases and cancels the unpaid ones, through a queued job', async () => {
    const sale = await saleEvent(db.sql, organizer.id, { capacity: 10 });
    const orders = await Promise.all([buyer(), buyer(), buyer()].map((who) => buy(node.api, who, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ga, quantity: 1 }] })));
    for (const order of orders.slice(0, 2)) {
      const signed = stripe.sign(stripe.pay(paymentOf(order.body).paymentId));
      await deliverStripeWebhook(node.api, signed.body, signed.signature);
      await settled(db.sql, order.body.id, ['confirmed']);
    }
    const cancelled = await call(`${node.api}/organizer/events/${sale.eventId}/cancel`, { token: organizer.token, body: { reason: 'storm' } });
    expect(cancelled.status).toBe(200);
    for (const order of orders.slice(0, 2)) expect(await settled(db.sql, order.body.id, ['refunded'])).toBe('refunded');
    expect(await settled(db.sql, orders[2]!.body.id, ['cancelled'])).toBe('cancelled');
    expect(stripe.intents.get(paymentOf(orders[2]!.body).paymentId)!.status).toBe('canceled');
    const [valid] = await db.sql<{ n: number }[]>`select count(*)::int as n from tickets where event_id = ${sale.eventId} and status = 'valid'`;
    expect(valid!.n).toBe(0);
    const [admin] = await people(db.sql, 1, 'admin');
    const health = await call(`${node.api}/admin/payments/health`, { token: admin!.token });
    expect(health.body).toMatchObject({ paidWithoutTicketOrRefund: 0, unprocessedWebhooks: 0 });
    expect((await call(`${node.api}/admin/payments/health`, { token: organizer.token })).status).toBe(403);
    await assertPromises(db.sql, redis, sale.eventId);
    await nothingUnaccounted();
  });
});
