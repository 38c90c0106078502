// The durable purchase host against real Postgres and Redis: the whole path from hold to tickets,
// expiry, rejection, idempotency keys, serial application under concurrency, a Redis flush mid-sale,
// the outbox relay after a failed effect, and one trace record per transition. Every case checks
// the promises: sold <= capacity, no leaked holds, paid means tickets or refund, the log replays.
import { randomUUID } from 'node:crypto';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayPurchase, type PurchaseEvent, type PurchaseInput, type PurchaseItem } from '../../machines/index.ts';
import { createInventory, type Inventory } from '../inventory/index.ts';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '../../test/helpers/databases.ts';
import { createEffectRunner } from './effects.ts';
import { createPurchaseHost, type EffectRunner, type PurchaseHost } from './host.ts';
import type { PaymentPort } from './payments-port.ts';

class RecordingPayments implements PaymentPort {
  calls: { kind: string; idempotencyKey: string; paymentId?: string }[] = [];
  failNextStart = false;
  start(request: { purchaseId: string; idempotencyKey: string }) {
    if (this.failNextStart) {
      this.failNextStart = false;
      return Promise.reject(new Error('provider unavailable'));
    }
    this.calls.push({ kind: 'start', idempotencyKey: request.idempotencyKey });
    return Promise.resolve({ paymentId: `pay_${request.purchaseId}` });
  }
  cancel(request: { paymentId: string; idempotencyKey: string }) {
    this.calls.push({ kind: 'cancel', idempotencyKey: request.idempotencyKey, paymentId: request.paymentId });
    return Promise.resolve('cancelled' as const);
  }
  refund(request: { paymentId: string; idempotencyKey: string }) {
    this.calls.push({ kind: 'refund', idempotencyKey: request.idempotencyKey, paymentId: request.paymentId });
    return Promise.resolve();
  }
}

describe('purchase host', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let inventory: Inventory;
  let payments: RecordingPayments;
  let host: PurchaseHost;
  let effects: EffectRunner;
  let customerId: string;
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

  beforeAll(async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
    [db, redis] = await Promise.all([createTestDatabase(), createTestRedis()]);
    inventory = createInventory(redis.client, redis.prefix);
    payments = new RecordingPayments();
    const log = pino({ level: 'silent' });
    effects = createEffectRunner({ sql: db.sql, inventory, payments, log, holdTtlMs: 600_000, holdGraceMs: 60_000 });
    host = createPurchaseHost({ sql: db.sql, log, runEffect: effects });
    const [user] = await db.sql<{ id: string }[]>`insert into users (email) values ('buyer@example.com') returning id`;
    customerId = user!.id;
  });
  afterAll(async () => {
    trace.disable();
    context.disable();
    await Promise.all([db.drop(), redis.cleanup()]);
  });

  async function onSale(capacity: number, seats = 0): Promise<{ eventId: string; ga: string; seated: string; seatIds: string[] }> {
    const [event] = await db.sql<{ id: string }[]>`
      insert into events (organizer_id, slug, title, timezone, starts_at, ends_at, sales_start_at, sales_end_at, status)
      values (${customerId}, ${`e-${randomUUID().slice(0, 8)}`}, 'Sale', 'UTC', now() + interval '10 days', now() + interval '11 days', now(), now() + interval '9 days', 'published')
      returning id`;
    const eventId = event!.id;
    const [ga] = await db.sql<{ id: string }[]>`
      insert into ticket_types (event_id, name, kind, price_minor, currency, capacity) values (${eventId}, 'GA', 'general', 1000, 'EUR', ${capacity}) returning id`;
    const [seated] = await db.sql<{ id: string }[]>`
      insert into ticket_types (event_id, name, kind, price_minor, currency, capacity) values (${eventId}, 'Seats', 'seated', 2000, 'EUR', ${seats}) returning id`;
    const seatRows = seats
      ? await db.sql<{ id: string }[]>`
          insert into seats (event_id, ticket_type_id, section, row_label, seat_number)
          select ${eventId}, ${seated!.id}, 'S', 'A', n::text from generate_series(1, ${seats}) n returning id::text`
      : [];
    await inventory.setAvailable(eventId, { [ga!.id]: capacity, [seated!.id]: seats });
    return { eventId, ga: ga!.id, seated: seated!.id, seatIds: seatRows.map((r) => r.id) };
  }

  function input(eventId: string, items: PurchaseItem[], amountMinor = 2000): PurchaseInput & { idempotencyKey: string; requestHash: string } {
    return { purchaseId: randomUUID(), eventId, customerId, items, amountMinor, currency: 'EUR', idempotencyKey: randomUUID(), requestHash: 'h' };
  }

  /** The promises, checked for everything one event's purchases did. */
  async function assertPromises(eventId: string): Promise<void> {
    const oversold = await db.sql`select id from ticket_types where event_id = ${eventId} and sold > capacity`;
    expect(oversold).toEqual([]);
    const [counts] = await db.sql<{ tickets: number; sold: number }[]>`
      select (select count(*)::int from tickets where event_id = ${eventId}) as tickets,
             (select coalesce(sum(sold), 0)::int from ticket_types where event_id = ${eventId}) as sold`;
    expect(counts!.tickets).toBe(counts!.sold);
    const purchases = await db.sql<{ id: string; state: string; snapshot: { context: PurchaseInput } }[]>`
      select id, state, snapshot from purchases where event_id = ${eventId}`;
    for (const p of purchases) {
      const log = await db.sql<{ seq: number; event_type: string; payload: PurchaseEvent; to_state: string }[]>`
        select seq, event_type, payload, to_state from purchase_transitions where purchase_id = ${p.id} order by seq`;
      expect(log.map((r) => r.seq)).toEqual(log.map((_, i) => i + 1));
      const events = log.slice(1).map((r) => r.payload);
      expect(replayPurchase(p.snapshot.context, events).value).toBe(p.state);
      expect(log.at(-1)!.to_state).toBe(p.state);
      // Paid means tickets or a refund, and a settled purchase holds nothing in Redis.
      const paid = events.some((e) => e.type === 'payment.succeeded');
      if (paid) expect(['confirmed', 'refunded', 'refunding', 'confirming']).toContain(p.state);
      if (['expired', 'cancelled', 'rejected', 'payment_failed', 'refunded'].includes(p.state)) {
        expect(await redis.client.exists(`${redis.prefix}:{ev:${eventId}}:hold:${p.id}`)).toBe(0);
      }
    }
  }

  it('runs a purchase from hold to tickets', async () => {
    const sale = await onSale(10);
    const request = input(sale.eventId, [{ ticketTypeId: sale.ga, quantity: 2 }]);
    const started = await host.start(request);
    expect(started).toMatchObject({ state: 'paying', existing: false });
    expect(started.holdDeadline!.getTime()).toBeGreaterThan(Date.now() + 500_000);
    expect((await inventory.available(sale.eventId, [sale.ga]))[sale.ga]).toBe(8);

    const done = await host.deliver(request.purchaseId, { type: 'payment.succeeded', paymentId: `pay_${request.purchaseId}` });
    expect(done.state).toBe('confirmed');
    const tickets = await db.sql`select id from tickets where purchase_id = ${request.purchaseId}`;
    expect(tickets).toHaveLength(2);
    const log = await db.sql<{ from_state: string | null; to_state: string; event_type: string }[]>`
      select from_state, to_state, event_type from purchase_transitions where purchase_id = ${request.purchaseId} order by seq`;
    expect(log.map((r) => `${r.from_state ?? '-'}>${r.to_state}:${r.event_type}`)).toEqual([
      '->reserving:purchase.created',
      'reserving>held:hold.placed',
      'held>paying:payment.started',
      'paying>confirming:payment.succeeded',
      'confirming>confirmed:tickets.issued',
    ]);
    const [outbox] = await db.sql<{ pending: number }[]>`select count(*)::int as pending from purchase_outbox where purchase_id = ${request.purchaseId} and done_at is null`;
    expect(outbox?.pending).toBe(0);
    await assertPromises(sale.eventId);
  });

  it('expires an unpaid hold: seats and counts come back, the payment is cancelled', async () => {
    const sale = await onSale(5, 4);
    const request = input(sale.eventId, [{ ticketTypeId: sale.seated, quantity: 2, seatIds: sale.seatIds.slice(0, 2) }]);
    const started = await host.start(request);
    expect(await inventory.seatOwners(sale.eventId, sale.seatIds.slice(0, 2))).toEqual([request.purchaseId, request.purchaseId]);
    // Too early: refused by the deadline guard, nothing written but the ignored count.
    const early = await host.deliver(request.purchaseId, { type: 'hold.expired', now: started.holdDeadline!.getTime() - 1 });
    expect(early).toMatchObject({ state: 'paying', changed: false, version: started.version });
    const expired = await host.deliver(request.purchaseId, { type: 'hold.expired', now: started.holdDeadline!.getTime() });
    expect(expired.state).toBe('expired');
    expect(await inventory.seatOwners(sale.eventId, sale.seatIds.slice(0, 2))).toEqual([null, null]);
    expect((await inventory.available(sale.eventId, [sale.seated]))[sale.seated]).toBe(4);
    expect(payments.calls.filter((c) => c.kind === 'cancel' && c.paymentId === `pay_${request.purchaseId}`)).toHaveLength(1);
    // Money arriving after the expiry: one seat was taken meanwhile, so it is refunded, never lost.
    const rival = input(sale.eventId, [{ ticketTypeId: sale.seated, quantity: 1, seatIds: sale.seatIds.slice(1, 2) }]);
    expect((await host.start(rival)).state).toBe('paying');
    const late = await host.deliver(request.purchaseId, { type: 'payment.succeeded', paymentId: `pay_${request.purchaseId}` });
    expect(late.state).toBe('refunded');
    expect(await inventory.seatOwners(sale.eventId, sale.seatIds.slice(0, 2))).toEqual([null, rival.purchaseId]);
    // Another late payment with its seats still free: the seats are claimed again and it is confirmed.
    const second = input(sale.eventId, [{ ticketTypeId: sale.seated, quantity: 1, seatIds: sale.seatIds.slice(2, 3) }]);
    const secondStart = await host.start(second);
    await host.deliver(second.purchaseId, { type: 'hold.expired', now: secondStart.holdDeadline!.getTime() });
    const confirmed = await host.deliver(second.purchaseId, { type: 'payment.succeeded', paymentId: `pay_${second.purchaseId}` });
    expect(confirmed.state).toBe('confirmed');
    expect(await inventory.seatOwners(sale.eventId, sale.seatIds.slice(2, 3))).toEqual([`sold:${second.purchaseId}`]);
    await assertPromises(sale.eventId);
  });

  it('rejects a hold it cannot place, and records the rejection', async () => {
    const sale = await onSale(1);
    const request = input(sale.eventId, [{ ticketTypeId: sale.ga, quantity: 2 }]);
    expect((await host.start(request)).state).toBe('rejected');
    const log = await db.sql<{ to_state: string }[]>`select to_state from purchase_transitions where purchase_id = ${request.purchaseId} order by seq`;
    expect(log.map((r) => r.to_state)).toEqual(['reserving', 'rejected']);
    expect((await inventory.available(sale.eventId, [sale.ga]))[sale.ga]).toBe(1);
    await assertPromises(sale.eventId);
  });

  it('same Idempotency-Key and body: the same purchase; another body: 422', async () => {
    const sale = await onSale(10);
    const request = input(sale.eventId, [{ ticketTypeId: sale.ga, quantity: 1 }]);
    const first = await host.start(request);
    const again = await host.start({ ...request, purchaseId: randomUUID() });
    expect(again).toMatchObject({ id: first.id, existing: true });
    await expect(host.start({ ...request, purchaseId: randomUUID(), requestHash: 'other' })).rejects.toMatchObject({ code: 'unprocessable' });
    expect((await inventory.available(sale.eventId, [sale.ga]))[sale.ga]).toBe(9);
  });

  it('applies concurrent events for one purchase one at a time, and races 50 buyers for 10 tickets', async () => {
    const sale = await onSale(10);
    const requests = Array.from({ length: 50 }, () => input(sale.eventId, [{ ticketTypeId: sale.ga, quantity: 1 }]));
    const results = await Promise.all(requests.map((r) => host.start(r)));
    const winners = requests.filter((_, i) => results[i]!.state === 'paying');
    expect(winners).toHaveLength(10);
    expect(results.filter((r) => r.state === 'rejected')).toHaveLength(40);

    const target = winners[0]!;
    const noise: Promise<unknown>[] = Array.from({ length: 20 }, () => host.deliver(target.purchaseId, { type: 'hold.expired', now: 0 }));
    noise.push(host.deliver(target.purchaseId, { type: 'payment.succeeded', paymentId: `pay_${target.purchaseId}` }));
    await Promise.all(noise);
    expect((await host.view(target.purchaseId)).state).toBe('confirmed');
    await Promise.all(winners.slice(1).map((w) => host.deliver(w.purchaseId, { type: 'payment.succeeded', paymentId: `pay_${w.purchaseId}` })));
    const [tt] = await db.sql<{ sold: number; capacity: number }[]>`select sold, capacity from ticket_types where id = ${sale.ga}`;
    expect(tt).toEqual({ sold: 10, capacity: 10 });
    await assertPromises(sale.eventId);
  });

  it('survives a Redis flush mid-sale: completes where capacity allows, refunds where it does not', async () => {
    const sale = await onSale(3);
    const a = input(sale.eventId, [{ ticketTypeId: sale.ga, quantity: 2 }]);
    const b = input(sale.eventId, [{ ticketTypeId: sale.ga, quantity: 2 }]);
    expect((await host.start(a)).state).toBe('paying');
    // The holds vanish (Redis lost its data) and the counts come back without A's: 3 - 0 sold = 3
    // (A's hold was placed just before the loss, and not yet recorded when the rebuild read).
    const keys = await redis.client.keys(`${redis.prefix}:{ev:${sale.eventId}}:*`);
    await redis.client.del(...keys);
    await inventory.setAvailable(sale.eventId, { [sale.ga]: 3 });
    expect((await host.start(b)).state).toBe('paying');

    // A's payment claims its units again: B holds them, so A is refunded; B gets its tickets.
    const paidA = await host.deliver(a.purchaseId, { type: 'payment.succeeded', paymentId: `pay_${a.purchaseId}` });
    const paidB = await host.deliver(b.purchaseId, { type: 'payment.succeeded', paymentId: `pay_${b.purchaseId}` });
    expect([paidA.state, paidB.state]).toEqual(['refunded', 'confirmed']);
    expect(payments.calls.filter((c) => c.kind === 'refund' && c.paymentId === `pay_${a.purchaseId}`)).toHaveLength(1);
    expect(await inventory.available(sale.eventId, [sale.ga])).toEqual({ [sale.ga]: 1 });
    await assertPromises(sale.eventId);
  });

  it('the outbox relay finishes an effect that failed', async () => {
    const sale = await onSale(5);
    const request = input(sale.eventId, [{ ticketTypeId: sale.ga, quantity: 1 }]);
    payments.failNextStart = true;
    expect((await host.start(request)).state).toBe('held');
    const [pending] = await db.sql<{ effect: string; last_error: string }[]>`
      select effect, last_error from purchase_outbox where purchase_id = ${request.purchaseId} and done_at is null`;
    expect(pending).toEqual({ effect: 'startPayment', last_error: 'provider unavailable' });
    expect(await host.relay(0)).toBeGreaterThanOrEqual(1);
    expect((await host.view(request.purchaseId)).state).toBe('paying');
    // The payment was started once, under the step's idempotency key.
    expect(payments.calls.filter((c) => c.kind === 'start' && c.idempotencyKey.startsWith(request.purchaseId))).toHaveLength(1);
  });

  it('a retried request carries on what its first try left undone (the node that took it died), and repeats nothing done', async () => {
    const sale = await onSale(5, 2);
    const request = input(sale.eventId, [{ ticketTypeId: sale.seated, quantity: 1, seatIds: sale.seatIds.slice(0, 1) }]);
    // The first try's node dies after the commit, before its hold is placed.
    const dying = createPurchaseHost({ sql: db.sql, log: pino({ level: 'silent' }), runEffect: () => Promise.reject(new Error('node killed')) });
    expect((await dying.start(request)).state).toBe('reserving');
    expect(await inventory.seatOwners(sale.eventId, sale.seatIds.slice(0, 1))).toEqual([null]);

    const retried = await host.start(request);
    expect(retried).toMatchObject({ id: request.purchaseId, existing: true, state: 'paying' });
    expect(await inventory.seatOwners(sale.eventId, sale.seatIds.slice(0, 1))).toEqual([request.purchaseId]);
    const undone = await db.sql`select id from purchase_outbox where purchase_id = ${request.purchaseId} and done_at is null`;
    expect(undone).toEqual([]);

    // Retried again: nothing left to do, nothing run twice.
    expect(await host.start(request)).toMatchObject({ existing: true, state: 'paying' });
    expect(payments.calls.filter((c) => c.kind === 'start' && c.idempotencyKey.startsWith(request.purchaseId))).toHaveLength(1);
    const path = await db.sql<{ event_type: string }[]>`select event_type from purchase_transitions where purchase_id = ${request.purchaseId} order by seq`;
    expect(path.map((t) => t.event_type)).toEqual(['purchase.created', 'hold.placed', 'payment.started']);
    await host.deliver(request.purchaseId, { type: 'purchase.cancel' });
    await assertPromises(sale.eventId);
  });

  it('tickets issued by a node that died before converting its hold: the retried effect marks the seats sold', async () => {
    const sale = await onSale(5, 2);
    const seat = sale.seatIds[0]!;
    const request = input(sale.eventId, [{ ticketTypeId: sale.seated, quantity: 1, seatIds: [seat] }]);
    expect((await host.start(request)).state).toBe('paying');
    // This node commits the tickets in Postgres, then dies before Redis hears of it.
    const dying = new Proxy(inventory, {
      get: (target, name) => (name === 'convert' ? () => Promise.reject(new Error('node killed')) : Reflect.get(target, name) as unknown),
    });
    const log = pino({ level: 'silent' });
    const dyingHost = createPurchaseHost({ sql: db.sql, log, runEffect: createEffectRunner({ sql: db.sql, inventory: dying, payments, log, holdTtlMs: 600_000, holdGraceMs: 60_000 }) });
    expect((await dyingHost.deliver(request.purchaseId, { type: 'payment.succeeded', paymentId: `pay_${request.purchaseId}` })).state).toBe('confirming');
    const [tickets] = await db.sql<{ n: number }[]>`select count(*)::int as n from tickets where purchase_id = ${request.purchaseId}`;
    expect(tickets!.n).toBe(1);
    // Long after, its hold record and seat key expired in Redis: the seat reads free there.
    await redis.client.del(`${redis.prefix}:{ev:${sale.eventId}}:hold:${request.purchaseId}`, `${redis.prefix}:{ev:${sale.eventId}}:seat:${seat}`);
    expect(await inventory.seatOwners(sale.eventId, [seat])).toEqual([null]);

    expect(await host.relay(0)).toBeGreaterThanOrEqual(1);
    expect((await host.view(request.purchaseId)).state).toBe('confirmed');
    expect(await inventory.seatOwners(sale.eventId, [seat])).toEqual([`sold:${request.purchaseId}`]);
    const other = await host.start(input(sale.eventId, [{ ticketTypeId: sale.seated, quantity: 1, seatIds: [seat] }]));
    expect(other.state).toBe('rejected');
    await assertPromises(sale.eventId);
  });

  it('the relay does not re-run an entry effect the purchase has outgrown, nor issue twice', async () => {
    const sale = await onSale(5, 2);
    const request = input(sale.eventId, [{ ticketTypeId: sale.seated, quantity: 1, seatIds: sale.seatIds.slice(0, 1) }]);
    const started = await host.start(request);
    await host.deliver(request.purchaseId, { type: 'hold.expired', now: started.holdDeadline!.getTime() });
    expect(await inventory.seatOwners(sale.eventId, sale.seatIds.slice(0, 1))).toEqual([null]);
    // Under load the relay can pick up the first hold's row while its run is still in flight
    // (done only once the purchase moved on): the purchase has expired, so nothing is held again.
    await db.sql`update purchase_outbox set done_at = null where purchase_id = ${request.purchaseId} and effect = 'placeHold'`;
    expect(await host.relay(0)).toBeGreaterThanOrEqual(1);
    expect(await inventory.seatOwners(sale.eventId, sale.seatIds.slice(0, 1))).toEqual([null]);
    expect((await inventory.available(sale.eventId, [sale.seated]))[sale.seated]).toBe(2);
    expect((await host.view(request.purchaseId)).state).toBe('expired');

    // Two runs of one issueTickets effect at once issue its tickets once.
    const ga = input(sale.eventId, [{ ticketTypeId: sale.ga, quantity: 2 }]);
    await host.start(ga);
    const [hold] = await db.sql<{ token: string }[]>`select snapshot->'context'->'hold'->>'token' as token from purchases where id = ${ga.purchaseId}`;
    const issue = { purchaseId: ga.purchaseId, eventId: sale.eventId, holdToken: hold!.token, items: ga.items };
    const both = await Promise.all([effects(ga.purchaseId, 'x:1', { type: 'issueTickets', params: issue }), effects(ga.purchaseId, 'x:2', { type: 'issueTickets', params: issue })]);
    expect(both).toEqual([{ type: 'tickets.issued' }, { type: 'tickets.issued' }]);
    const [counted] = await db.sql<{ tickets: number; sold: number }[]>`
      select (select count(*)::int from tickets where purchase_id = ${ga.purchaseId}) as tickets, (select sold from ticket_types where id = ${sale.ga}) as sold`;
    expect(counted).toEqual({ tickets: 2, sold: 2 });
  });

  it('keeps each purchase in one trace: a span per transition, later events joined to it and linked to their cause', async () => {
    exporter.reset();
    const sale = await onSale(5);
    const request = input(sale.eventId, [{ ticketTypeId: sale.ga, quantity: 1 }]);
    const tracer = trace.getTracer('test');
    // The buyer's request, then (in another trace, as a webhook job would be) the payment.
    const requestTrace = await tracer.startActiveSpan('request', async (span) => {
      await host.start(request);
      span.end();
      return span.spanContext().traceId;
    });
    const webhookSpan = await tracer.startActiveSpan('webhook job', async (span) => {
      await host.deliver(request.purchaseId, { type: 'payment.succeeded', paymentId: `pay_${request.purchaseId}` });
      span.end();
      return span.spanContext();
    });
    await provider.forceFlush();
    const spans = exporter.getFinishedSpans();
    const transitions = spans
      .filter((s) => s.name === 'boxoffice.purchase.transition' && s.attributes['boxoffice.purchase.id'] === request.purchaseId)
      .sort((a, b) => Number(a.attributes['boxoffice.transition.seq']) - Number(b.attributes['boxoffice.transition.seq']));
    const rows = await db.sql<{ to_state: string; trace_id: string }[]>`
      select to_state, trace_id from purchase_transitions where purchase_id = ${request.purchaseId} order by seq`;
    expect(transitions.map((s) => s.attributes['boxoffice.transition.to'])).toEqual(rows.map((r) => r.to_state));
    expect(rows.map((r) => r.to_state)).toEqual(['reserving', 'held', 'paying', 'confirming', 'confirmed']);
    // Everything, including what the webhook delivered, is in the request's trace...
    expect(new Set(transitions.map((s) => s.spanContext().traceId))).toEqual(new Set([requestTrace]));
    expect(new Set(rows.map((r) => r.trace_id))).toEqual(new Set([requestTrace]));
    // ...and the delivery of the payment links back to the job that carried it.
    const delivered = spans.find((s) => s.name === 'boxoffice.purchase.deliver' && s.attributes['boxoffice.transition.event'] === 'payment.succeeded');
    expect(delivered?.spanContext().traceId).toBe(requestTrace);
    expect(delivered?.links.map((l) => l.context.spanId)).toEqual([webhookSpan.spanId]);
    // Transitions happen in order in time too.
    const starts = transitions.map((s) => s.startTime[0] * 1e9 + s.startTime[1]);
    expect([...starts].sort((a, b) => a - b)).toEqual(starts);
    // Queries are spans of their own, inside the purchase's spans, without parameters.
    const queries = spans.filter((s) => s.attributes['db.system.name'] === 'postgresql' && s.spanContext().traceId === requestTrace);
    expect(queries.length).toBeGreaterThan(5);
    expect(queries.some((s) => String(s.attributes['db.query.text']).startsWith('insert into purchases'))).toBe(true);
    expect(queries.every((s) => !String(s.attributes['db.query.text']).includes(request.purchaseId))).toBe(true);
  });
});
