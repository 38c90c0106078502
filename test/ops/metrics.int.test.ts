// /metrics after a small sale on a real node (real Postgres, Redis, sockets): every counter has
// the exact value the sale implies, the transition counter equals the transition log, the gauges
// read the deployment, and the endpoint is behind its token, or on a port of its own.
import { randomUUID } from 'node:crypto';
import { io as connectLive } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '../helpers/databases.ts';
import { assertPromises, buy, people, saleEvent, settled, type Person } from '../helpers/purchases.ts';
import { call, startTestServer, type TestServer } from '../helpers/server.ts';

const TOKEN = `metrics-${randomUUID()}-${randomUUID()}`;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (comments skipped). */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not an exposition line: ${line}`);
    const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

async function scrape(url: string, token: string | null = TOKEN): Promise<Sample[]> {
  const res = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}

/** The value of one series (0 when absent: a counter never incremented has no sample yet). */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return found.reduce((sum, s) => sum + s.value, 0);
}

describe('metrics', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let node: TestServer;
  let organizer: Person;
  let buyers: Person[];

  beforeAll(async () => {
    [db, redis] = await Promise.all([createTestDatabase(), createTestRedis()]);
    [[organizer], buyers] = (await Promise.all([people(db.sql, 1, 'organizer'), people(db.sql, 4)])) as [[Person], Person[]];
    node = await startTestServer(db, redis, { METRICS_TOKEN: TOKEN, SCANNER_ADMIT_FROM_HOURS: '2000', SWEEP_INTERVAL_SECONDS: '3600' });
  });
  afterAll(async () => {
    await node?.stop();
    await Promise.all([db?.drop(), redis?.cleanup()]);
  });

  it('are behind the token: none or a wrong one is a 401 with the stable body', async () => {
    for (const authorization of [undefined, 'Bearer wrong', `Basic ${TOKEN}`, `Bearer ${TOKEN}x`]) {
      const res = await fetch(`${node.url}/metrics`, authorization ? { headers: { authorization } } : {});
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await res.json()).toEqual({ error: { code: 'unauthorized', message: 'a valid metrics token is required' } });
    }
    expect(node.server.metricsUrl).toBe(`${node.url}/metrics`);
  });

  it('count a small sale exactly: holds placed, rejected, expired, confirms, refunds, the oversell Postgres stopped', async () => {
    const [a, b, c, d] = buyers as [Person, Person, Person, Person];
    const sale = await saleEvent(db.sql, organizer.id, { capacity: 4 });
    const before = await scrape(node.server.metricsUrl);
    const hold = (who: Person, quantity: number) => buy(node.api, who, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ga, quantity }] });
    const pay = (who: Person, body: Record<string, unknown>) =>
      call(`${node.api}/sandbox/payments/${(body['payment'] as { paymentId: string }).paymentId}/succeed`, { token: who.token, body: {} });

    // A watcher of the event, so availability updates go out (and their lag is measured).
    const watcher = connectLive(node.url, { transports: ['websocket'], reconnection: false });
    await new Promise<void>((resolve, reject) => {
      watcher.once('connect', () => resolve());
      watcher.once('connect_error', reject);
    });
    await watcher.emitWithAck('watch', { eventId: sale.eventId });
    const updates = new Promise<void>((resolve) => watcher.once('availability', () => resolve()));

    // A buys 2 and pays: confirmed.
    const first = await hold(a, 2);
    expect(first.status).toBe(201);
    await pay(a, first.body);
    expect(await settled(db.sql, first.body.id, ['confirmed'])).toBe('confirmed');
    // B asks for 3 of the 2 left: rejected, sold out.
    const refused = await hold(b, 3);
    expect(refused.status).toBe(409);
    // C holds 1 and lets it lapse (the timer's event, delivered with a clock past the deadline).
    const lapsing = await hold(c, 1);
    expect(lapsing.status).toBe(201);
    await node.server.purchases.host.deliver(lapsing.body.id, { type: 'hold.expired', now: Date.now() + 24 * 3600 * 1000 });
    expect(await settled(db.sql, lapsing.body.id, ['expired'])).toBe('expired');
    // D holds the last 2; meanwhile the organizer cuts capacity to what is sold, so when D's money
    // arrives Postgres refuses to issue: no oversell, D is refunded.
    const late = await hold(d, 2);
    expect(late.status).toBe(201);
    await settled(db.sql, late.body.id, ['paying']);
    const holding = await scrape(node.server.metricsUrl);
    expect(valueOf(holding, 'boxoffice_live_holds')).toBe(1);
    expect(valueOf(holding, 'boxoffice_watchers_connected')).toBe(1);
    await db.sql`update ticket_types set capacity = sold where id = ${sale.ga}`;
    await pay(d, late.body);
    expect(await settled(db.sql, late.body.id, ['refunded'])).toBe('refunded');
    await updates;

    // Door scans of A's tickets: one admitted, then the same ticket again.
    const device = await call<{ token: string }>(`${node.api}/organizer/events/${sale.eventId}/devices`, { token: organizer.token, body: { name: 'Door' } });
    const [ticket] = await db.sql<{ code: string }[]>`select code from tickets where purchase_id = ${first.body.id} limit 1`;
    const door = new WebSocket(`${node.url.replace('http', 'ws')}/scanner/v1`, { headers: { authorization: `Bearer ${device.body.token}` } });
    await new Promise<void>((resolve, reject) => door.once('open', () => resolve()).once('error', reject));
    const outcomes: string[] = [];
    for (let i = 0; i < 2; i++) {
      const requestId = randomUUID();
      door.send(JSON.stringify({ type: 'validate', requestId, code: ticket!.code }));
      outcomes.push(
        await new Promise<string>((resolve) =>
          door.on('message', (data: Buffer) => {
            const reply = JSON.parse(data.toString()) as { requestId?: string; outcome?: string };
            if (reply.requestId === requestId) resolve(reply.outcome ?? '');
          }),
        ),
      );
    }
    expect(outcomes).toEqual(['admitted', 'already_admitted']);
    door.close();

    await assertPromises(db.sql, redis, sale.eventId);
    const after = await scrape(node.server.metricsUrl);
    const grew = (name: string, labels: Record<string, string> = {}) => valueOf(after, name, labels) - valueOf(before, name, labels);
    expect(grew('boxoffice_holds_placed_total')).toBe(3);
    expect(grew('boxoffice_holds_rejected_total', { reason: 'sold_out' })).toBe(1);
    expect(grew('boxoffice_holds_expired_total')).toBe(1);
    expect(grew('boxoffice_purchases_confirmed_total')).toBe(1);
    expect(grew('boxoffice_oversell_stopped_total')).toBe(1);
    expect(grew('boxoffice_refunds_total', { kind: 'cannot_issue' })).toBe(1);
    expect(grew('boxoffice_refunds_total')).toBe(1);
    expect(grew('boxoffice_scanner_validations_total', { outcome: 'admitted' })).toBe(1);
    expect(grew('boxoffice_scanner_validations_total', { outcome: 'already_admitted' })).toBe(1);
    expect(grew('boxoffice_http_request_duration_seconds_count', { method: 'POST', route: '/api/v1/purchases', status_code: '201' })).toBe(3);
    expect(grew('boxoffice_http_request_duration_seconds_count', { method: 'POST', route: '/api/v1/purchases', status_code: '409' })).toBe(1);
    expect(grew('boxoffice_broadcast_lag_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(valueOf(after, 'boxoffice_live_holds')).toBe(0);
    expect(valueOf(after, 'boxoffice_paid_without_ticket_or_refund')).toBe(0);

    // The transition counter is the transition log, pair by pair.
    const log = await db.sql<{ from_state: string | null; to_state: string; n: number }[]>`
      select t.from_state, t.to_state, count(*)::int as n from purchase_transitions t join purchases p on p.id = t.purchase_id
      where p.event_id = ${sale.eventId} group by 1, 2`;
    expect(log.length).toBeGreaterThanOrEqual(8);
    for (const row of log) {
      expect(grew('boxoffice_purchase_transitions_total', { from: row.from_state ?? 'none', to: row.to_state }), `${row.from_state} -> ${row.to_state}`).toBe(row.n);
    }
    watcher.disconnect();
  });

  it('report the queues by state, with a failure counter per queue from zero, and the default process metrics', async () => {
    const samples = await scrape(node.server.metricsUrl);
    for (const queue of ['mail', 'hold-timers', 'payment-events', 'event-refunds']) {
      for (const state of ['waiting', 'active', 'delayed', 'failed']) {
        expect(samples.some((s) => s.name === 'boxoffice_queue_jobs' && s.labels['queue'] === queue && s.labels['state'] === state), `${queue} ${state}`).toBe(true);
      }
      expect(samples.some((s) => s.name === 'boxoffice_queue_failures_total' && s.labels['queue'] === queue)).toBe(true);
    }
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds']) {
      expect(samples.some((s) => s.name === name), name).toBe(true);
    }
  });

  it('can live on a port of their own: then the API port does not serve them', async () => {
    const other = await startTestServer(db, redis, { METRICS_PORT: '0' });
    try {
      expect(other.server.metricsUrl).not.toContain(other.url);
      const samples = await scrape(other.server.metricsUrl, null);
      expect(samples.some((s) => s.name === 'boxoffice_watchers_connected')).toBe(true);
      expect((await fetch(`${other.url}/metrics`)).status).toBe(404);
      expect((await fetch(other.server.metricsUrl.replace('/metrics', '/other'))).status).toBe(404);
    } finally {
      await other.stop();
    }
  });
});
