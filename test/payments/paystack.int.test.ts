// Paystack end to end, against a local stand-in of its API, with webhooks signed as Paystack signs
// them: a transaction per purchase, duplicate and concurrent webhooks with one effect, bad
// signatures refused, a payment made after the hold expired (Paystack cannot cancel) issued or
// refunded, a lost webhook reconciled, and refunds that are never made twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPaystackProvider, paystackReference } from '../../server/payments/index.ts';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '../helpers/databases.ts';
import { deliverPaystackWebhook, FAKE_PAYSTACK_KEY, startFakePaystack, type FakePaystack } from '../helpers/fake-paystack.ts';
import { assertPromises, buy, holdOnFreshEvent, people, settled, type Person } from '../helpers/purchases.ts';
import { call, startTestServer, type TestServer } from '../helpers/server.ts';

describe('Paystack payments', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let paystack: FakePaystack;
  let node: TestServer;
  let late: TestServer;
  let organizer: Person;
  let buyers: Person[];
  let nextBuyer = 0;
  const buyer = () => buyers[nextBuyer++]!;

  beforeAll(async () => {
    [db, redis, paystack] = await Promise.all([createTestDatabase(), createTestRedis(), startFakePaystack()]);
    const env = {
      PAYMENT_PROVIDER: 'paystack',
      PAYSTACK_SECRET_KEY: FAKE_PAYSTACK_KEY,
      PAYSTACK_API_URL: paystack.url,
      SWEEP_INTERVAL_SECONDS: '3600',
      PAYMENT_RECONCILE_AFTER_SECONDS: '1',
    };
    [node, late] = await Promise.all([startTestServer(db, redis, env), startTestServer(db, redis, { ...env, HOLD_TTL_SECONDS: '1' })]);
    const [organizers, customers] = await Promise.all([people(db.sql, 1, 'organizer'), people(db.sql, 20)]);
    organizer = organizers[0]!;
    buyers = customers;
  });
  afterAll(async () => {
    await Promise.all([node?.stop(), late?.stop()]);
    await Promise.all([db?.drop(), redis?.cleanup(), paystack?.close()]);
  });

  const holdAndStart = (capacity: number, quantity: number, server: TestServer = node) => holdOnFreshEvent(db.sql, server.api, organizer.id, buyer(), capacity, quantity);

  it('initialises a transaction per purchase; the same webhook 10 times, or 10 at once, has one effect', async () => {
    const { sale, who, purchaseId, payment } = await holdAndStart(10, 2);
    expect(payment.paymentId).toBe(paystackReference(purchaseId));
    const transaction = paystack.transactions.get(payment.paymentId)!;
    expect(payment.redirectUrl).toBe(transaction.authorization_url);
    const [email] = await db.sql<{ email: string }[]>`select email from users where id = ${who.id}`;
    expect(transaction).toMatchObject({ amount: 5000, currency: 'EUR', email: email!.email, metadata: { purchaseId } });

    const signed = paystack.sign(paystack.pay(payment.paymentId));
    const sequential = [];
    for (let i = 0; i < 10; i++) sequential.push(await deliverPaystackWebhook(node.api, signed.body, signed.signature));
    expect(sequential.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(await settled(db.sql, purchaseId, ['confirmed'])).toBe('confirmed');

    const second = await holdAndStart(10, 1);
    const again = paystack.sign(paystack.pay(second.payment.paymentId));
    const together = await Promise.all(Array.from({ length: 10 }, (_, i) => deliverPaystackWebhook(i % 2 ? node.api : late.api, again.body, again.signature)));
    expect(together.filter((r) => r.status === 200 && r.body['duplicate'] === false)).toHaveLength(1);
    expect(await settled(db.sql, second.purchaseId, ['confirmed'])).toBe('confirmed');
    const [rows] = await db.sql<{ n: number }[]>`select count(*)::int as n from webhook_events where provider = 'paystack'`;
    expect(rows!.n).toBe(2);
    await assertPromises(db.sql, redis, sale.eventId);
    await assertPromises(db.sql, redis, second.sale.eventId);
  });

  it('refuses webhooks that are not signed with the secret key, changing nothing', async () => {
    const { purchaseId, payment } = await holdAndStart(5, 1);
    const event = paystack.pay(payment.paymentId);
    const genuine = paystack.sign(event);
    const forged = paystack.sign(event, 'sk_test_someoneelse000');
    const altered = genuine.body.replace('"amount":2500', '"amount":2501');
    expect(altered).not.toBe(genuine.body);
    const [before] = await db.sql<{ n: number }[]>`select count(*)::int as n from webhook_events`;
    for (const [body, signature] of [
      [forged.body, forged.signature],
      [altered, genuine.signature],
      [genuine.body, null],
      [genuine.body, 'abc'],
      ['{"event":', paystack.sign('x').signature],
    ] as [string, string | null][]) {
      const res = await deliverPaystackWebhook(node.api, body, signature);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: { code: 'bad_request' } });
    }
    const [after] = await db.sql<{ n: number }[]>`select count(*)::int as n from webhook_events`;
    expect(after!.n).toBe(before!.n);
    const [row] = await db.sql<{ state: string }[]>`select state from purchases where id = ${purchaseId}`;
    expect(row!.state).toBe('paying');
  });

  it('a payment made after the hold expired is issued when the ticket is free, refunded when it is not', async () => {
    const free = await holdAndStart(1, 1, late);
    expect(await settled(db.sql, free.purchaseId, ['expired'])).toBe('expired');
    const paidLate = paystack.sign(paystack.pay(free.payment.paymentId));
    await deliverPaystackWebhook(node.api, paidLate.body, paidLate.signature);
    expect(await settled(db.sql, free.purchaseId, ['confirmed', 'refunded'])).toBe('confirmed');

    const gone = await holdAndStart(1, 1, late);
    expect(await settled(db.sql, gone.purchaseId, ['expired'])).toBe('expired');
    const rival = await buy(node.api, buyer(), { eventId: gone.sale.eventId, items: [{ ticketTypeId: gone.sale.ga, quantity: 1 }] });
    expect(rival.status).toBe(201);
    const tooLate = paystack.sign(paystack.pay(gone.payment.paymentId));
    await deliverPaystackWebhook(node.api, tooLate.body, tooLate.signature);
    expect(await settled(db.sql, gone.purchaseId, ['confirmed', 'refunded'])).toBe('refunded');
    expect(paystack.refunds.filter((r) => r.transaction === gone.payment.paymentId).map((r) => r.amount)).toEqual([2500]);
    await assertPromises(db.sql, redis, free.sale.eventId);
    await assertPromises(db.sql, redis, gone.sale.eventId);
    // Paid after the expiry and the webhook lost: Paystack could not cancel, so reconciliation
    // still watches the payment and finds the money.
    const lost = await holdAndStart(1, 1, late);
    expect(await settled(db.sql, lost.purchaseId, ['expired'])).toBe('expired');
    paystack.pay(lost.payment.paymentId);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await node.server.purchases.sweep();
    expect(await settled(db.sql, lost.purchaseId, ['confirmed', 'refunded'])).toBe('confirmed');
    await assertPromises(db.sql, redis, lost.sale.eventId);
    expect(await node.server.purchases.payments.paidWithoutTicketOrRefund()).toBe(0);
  });

  it('reconciles a lost webhook, and refunds per ticket without ever refunding twice', async () => {
    const { sale, purchaseId, payment } = await holdAndStart(10, 2);
    paystack.pay(payment.paymentId);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await node.server.purchases.sweep();
    expect(await settled(db.sql, purchaseId, ['confirmed'])).toBe('confirmed');

    const [ticket] = await db.sql<{ id: string }[]>`select id from tickets where purchase_id = ${purchaseId} limit 1`;
    const res = await call(`${node.api}/organizer/events/${sale.eventId}/purchases/${purchaseId}/refunds`, {
      token: organizer.token,
      body: { reason: 'cannot come', ticketIds: [ticket!.id] },
    });
    expect(res.status).toBe(200);
    await expect.poll(() => paystack.refunds.filter((r) => r.transaction === payment.paymentId).length).toBe(1);

    // The adapter asked again with the same key (a retried effect) finds the refund it made.
    const adapter = createPaystackProvider({ secretKey: FAKE_PAYSTACK_KEY, apiUrl: paystack.url, callbackUrl: null });
    const step = paystack.refunds.find((r) => r.transaction === payment.paymentId)!.merchant_note!;
    await adapter.refund({ paymentId: payment.paymentId, amountMinor: 2500, currency: 'EUR', idempotencyKey: step });
    expect(paystack.refunds.filter((r) => r.transaction === payment.paymentId)).toHaveLength(1);
    expect(await adapter.lookup(payment.paymentId)).toMatchObject({ status: 'succeeded', amountMinor: 5000, currency: 'EUR' });
    await assertPromises(db.sql, redis, sale.eventId);
  });
});
