// One purchase, end to end over real HTTP with the OpenTelemetry SDK of the process and an
// in-memory exporter: the buyer's POST /purchases, the hold, the payment start, then the sandbox's
// payment webhook in another request, its payment-events job, and the confirm. The purchase must
// read as one connected trace holding every transition in order; the webhook's own trace (request
// -> job) is linked from it. Messages on sockets (Socket.IO, scanners) are spans of their own,
// linked to the trace of the upgrade request that opened the connection.
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { io as connect } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTelemetry, type Telemetry } from '../../server/observability/telemetry.ts';
import type { TestDatabase, TestRedis } from '../helpers/databases.ts';
import type { TestServer } from '../helpers/server.ts';

const exporter = new InMemorySpanExporter();
// Before the server's modules load, as instrument.ts does in a real process.
const telemetry: Telemetry = startTelemetry({
  serviceName: 'boxoffice-test',
  serviceVersion: '0.0.0',
  spanProcessors: [new SimpleSpanProcessor(exporter)],
  detectResources: false,
});
const { createTestDatabase, createTestRedis } = await import('../helpers/databases.ts');
const { startTestServer, call } = await import('../helpers/server.ts');
const { assertPromises, buy, people, saleEvent, settled } = await import('../helpers/purchases.ts');

const spanKey = (s: ReadableSpan) => s.spanContext().spanId;
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

function traceOf(spans: ReadableSpan[], traceId: string): ReadableSpan[] {
  return spans.filter((s) => s.spanContext().traceId === traceId);
}

/** Every span's parent is in the trace, and exactly one span has none: one connected tree. */
function expectConnected(trace: ReadableSpan[]): ReadableSpan {
  const ids = new Set(trace.map(spanKey));
  const roots = trace.filter((s) => !parentOf(s));
  expect(roots).toHaveLength(1);
  for (const span of trace) if (parentOf(span)) expect(ids.has(parentOf(span)!), `${span.name} has its parent in the trace`).toBe(true);
  return roots[0]!;
}

/** Is `span` below `ancestor` in its trace? */
function descends(trace: ReadableSpan[], span: ReadableSpan, ancestor: ReadableSpan): boolean {
  const byId = new Map(trace.map((s) => [spanKey(s), s]));
  for (let at: ReadableSpan | undefined = span; at; at = byId.get(parentOf(at) ?? '')) if (at === ancestor) return true;
  return false;
}

/** Has every finished span of these spans' traces its parent finished too? */
function closed(spans: ReadableSpan[]): boolean {
  const ids = new Set(spans.map(spanKey));
  return spans.every((s) => !parentOf(s) || ids.has(parentOf(s)!));
}

/**
 * The spans once the work has ended: the purchase is committed before the job span around it
 * closes, so wait (bounded) until no finished span still waits for its parent to end.
 */
async function settledSpans(ready: (spans: ReadableSpan[]) => boolean): Promise<ReadableSpan[]> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    await telemetry.flush();
    const spans = exporter.getFinishedSpans();
    if ((ready(spans) && closed(spans)) || Date.now() > deadline) return spans;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('tracing', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let node: TestServer;

  beforeAll(async () => {
    [db, redis] = await Promise.all([createTestDatabase(), createTestRedis()]);
    node = await startTestServer(db, redis);
  });
  afterAll(async () => {
    await node?.stop();
    await Promise.all([db?.drop(), redis?.cleanup()]);
    await telemetry.shutdown();
  });

  it('shows one purchase as one connected trace from the HTTP hold through the webhook job to the confirm', async () => {
    const [organizer] = await people(db.sql, 1, 'organizer');
    const [buyer] = await people(db.sql, 1);
    const sale = await saleEvent(db.sql, organizer!.id, { capacity: 5 });
    exporter.reset();

    const created = await buy(node.api, buyer!, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ga, quantity: 2 }] });
    expect(created.status).toBe(201);
    const purchaseId = created.body.id;
    const paymentId = (created.body['payment'] as { paymentId: string }).paymentId;
    const paid = await call(`${node.api}/sandbox/payments/${paymentId}/succeed`, { token: buyer!.token, body: {} });
    expect(paid.status).toBe(200);
    expect(await settled(db.sql, purchaseId, ['confirmed'])).toBe('confirmed');
    const spans = await settledSpans((all) =>
      all.some((s) => s.attributes['boxoffice.purchase.id'] === purchaseId && s.attributes['boxoffice.transition.to'] === 'confirmed'),
    );

    // The transitions, in order, all in one trace...
    const transitions = spans
      .filter((s) => s.name === 'boxoffice.purchase.transition' && s.attributes['boxoffice.purchase.id'] === purchaseId)
      .sort((a, b) => Number(a.attributes['boxoffice.transition.seq']) - Number(b.attributes['boxoffice.transition.seq']));
    expect(transitions.map((s) => `${String(s.attributes['boxoffice.transition.from'] || '-')}>${String(s.attributes['boxoffice.transition.to'])}`)).toEqual([
      '->reserving',
      'reserving>held',
      'held>paying',
      'paying>confirming',
      'confirming>confirmed',
    ]);
    const traceIds = new Set(transitions.map((s) => s.spanContext().traceId));
    expect(traceIds.size).toBe(1);
    const purchaseTraceId = [...traceIds][0]!;
    const purchaseTrace = traceOf(spans, purchaseTraceId);

    // ...a connected tree whose root is the buyer's HTTP request,
    const root = expectConnected(purchaseTrace);
    expect(root.kind).toBe(SpanKind.SERVER);
    expect(root.attributes['http.request.method'] ?? root.attributes['http.method']).toBe('POST');
    const route = purchaseTrace.find((s) => s.attributes['http.route'] === '/api/v1/purchases');
    expect(route, 'the Fastify request span names the route').toBeDefined();
    for (const t of transitions) expect(descends(purchaseTrace, t, root)).toBe(true);
    // the hold and the payment start ran inside it (PostgreSQL queries, the expiry timer job added)...
    expect(purchaseTrace.some((s) => s.attributes['db.system.name'] === 'postgresql' && String(s.attributes['db.query.text']).startsWith('insert into purchases'))).toBe(true);
    expect(purchaseTrace.some((s) => s.kind === SpanKind.PRODUCER && s.name.includes('hold-timers'))).toBe(true);

    // ...and the confirm came from the payment-events job, whose own trace began at the webhook request.
    const delivered = purchaseTrace.find((s) => s.name === 'boxoffice.purchase.deliver' && s.attributes['boxoffice.transition.event'] === 'payment.succeeded');
    expect(delivered).toBeDefined();
    const confirmed = transitions.at(-1)!;
    expect(descends(purchaseTrace, confirmed, delivered!)).toBe(true);
    expect(delivered!.links).toHaveLength(1);
    const jobSpanId = delivered!.links[0]!.context.spanId;
    const webhookTrace = traceOf(spans, delivered!.links[0]!.context.traceId);
    expect(webhookTrace.length).toBeGreaterThan(0);
    const webhookRoot = expectConnected(webhookTrace);
    expect(webhookRoot.kind).toBe(SpanKind.SERVER);
    expect(webhookTrace.some((s) => s.attributes['http.route'] === '/api/v1/sandbox/payments/:paymentId/succeed')).toBe(true);
    const job = webhookTrace.find((s) => s.kind === SpanKind.CONSUMER && s.name.includes('payment-events'));
    expect(job, 'the payment-events job is a consumer span of the webhook trace').toBeDefined();
    const linked = webhookTrace.find((s) => spanKey(s) === jobSpanId);
    expect(linked && descends(webhookTrace, linked, job!)).toBe(true);

    // The transition log carries the same trace id.
    const logged = await db.sql<{ trace_id: string }[]>`select distinct trace_id from purchase_transitions where purchase_id = ${purchaseId}`;
    expect(logged.map((r) => r.trace_id)).toEqual([purchaseTraceId]);
    await assertPromises(db.sql, redis, sale.eventId);
  });

  it('makes each socket message a span linked to the connection upgrade, with its queries inside', async () => {
    const [organizer] = await people(db.sql, 1, 'organizer');
    const sale = await saleEvent(db.sql, organizer!.id, { capacity: 5 });
    const device = await call<{ token: string }>(`${node.api}/organizer/events/${sale.eventId}/devices`, { token: organizer!.token, body: { name: 'Door' } });
    expect(device.status).toBe(201);
    exporter.reset();
    // The clients connect inside a span of their own; the upgrade requests carry its context (sent
    // by hand, and by the HTTP client instrumentation of this process, in the same trace).
    const client = trace.getTracer('test').startSpan('client');
    const upgradeTrace = client.spanContext().traceId;
    const traceparent = `00-${upgradeTrace}-${client.spanContext().spanId}-01`;
    const inClient = <T>(fn: () => T): T => context.with(trace.setSpan(context.active(), client), fn);

    // A scanner says hello over plain WebSocket...
    const ws = inClient(() => new WebSocket(`${node.url.replace('http', 'ws')}/scanner/v1`, { headers: { authorization: `Bearer ${device.body.token}`, traceparent } }));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const welcome = new Promise<{ type: string }>((resolve) => ws.once('message', (data: Buffer) => resolve(JSON.parse(data.toString()) as { type: string })));
    ws.send(JSON.stringify({ type: 'hello', protocol: 1 }));
    expect((await welcome).type).toBe('welcome');
    ws.close();

    // ...and a browser watches the event over Socket.IO.
    const socket = inClient(() => connect(node.url, { transports: ['websocket'], forceNew: true, reconnection: false, extraHeaders: { traceparent } }));
    const snapshot = await new Promise<{ eventId?: string }>((resolve) => socket.emit('watch', { eventId: sale.eventId }, resolve));
    expect(snapshot.eventId).toBe(sale.eventId);
    socket.close();
    client.end();

    const spans = await settledSpans((all) => ['scanner hello', 'socket.io watch'].every((name) => all.some((s) => s.name === name)));
    for (const name of ['scanner hello', 'socket.io watch']) {
      const message = spans.find((s) => s.name === name);
      expect(message, name).toBeDefined();
      expect(message!.kind).toBe(SpanKind.CONSUMER);
      expect(parentOf(message!)).toBeUndefined();
      expect(message!.links.map((l) => l.context.traceId)).toEqual([upgradeTrace]);
      expect(message!.spanContext().traceId).not.toBe(upgradeTrace);
    }
    const hello = spans.find((s) => s.name === 'scanner hello')!;
    const inside = traceOf(spans, hello.spanContext().traceId).filter((s) => s.attributes['db.system.name'] === 'postgresql');
    expect(inside.length).toBeGreaterThan(0);
  });
});
