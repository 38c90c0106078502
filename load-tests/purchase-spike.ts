// Load test: an on-sale spike against the purchase API. Brings up a throwaway PostgreSQL and
// Redis, starts two server instances on loopback sharing them, and fires a bounded number of
// hold requests (POST /api/v1/purchases) for one general-admission ticket type from many buyers
// at a fixed concurrency, spread over both instances. Then, optionally, pays every hold through
// the sandbox. Prints holds/s, requests/s and latencies, and checks the promises: exactly
// min(capacity, requests) held, sold = tickets <= capacity, nothing held after paying.
//
//   npm run load:purchase-spike [-- --requests 5000 --capacity 1000 --concurrency 100 --buyers 500 --pay]
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { startServer, type RunningServer } from '../server/server.ts';
import { benchEvent, benchPeople, startBenchStack } from './harness.ts';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '5000' },
    capacity: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '100' },
    buyers: { type: 'string', default: '500' },
    pay: { type: 'boolean', default: false },
  },
});
const clamp = (value: string | undefined, min: number, max: number) => Math.min(max, Math.max(min, Math.floor(Number(value))));
const requests = clamp(values.requests, 1, 100_000);
const capacity = clamp(values.capacity, 1, 100_000);
const concurrency = clamp(values.concurrency, 1, 1_000);
const buyerCount = clamp(values.buyers, 1, 10_000);
const out = (line: string) => process.stdout.write(`${line}\n`);
const ms = (n: number) => `${n.toFixed(0)} ms`;
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

/** Runs `count` tasks with at most `limit` in flight; returns each task's latency and status. */
async function fire(count: number, limit: number, task: (i: number) => Promise<number>) {
  const results: { ms: number; status: number }[] = new Array<{ ms: number; status: number }>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, count) }, async () => {
      while (next < count) {
        const i = next++;
        const started = performance.now();
        const status = await task(i).catch(() => 0);
        results[i] = { ms: performance.now() - started, status };
      }
    }),
  );
  return results;
}

function report(label: string, results: { ms: number; status: number }[], elapsedMs: number, okStatus: number) {
  const sorted = results.map((r) => r.ms).sort((a, b) => a - b);
  const ok = results.filter((r) => r.status === okStatus).length;
  const byStatus = Object.entries(results.reduce<Record<number, number>>((acc, r) => ({ ...acc, [r.status]: (acc[r.status] ?? 0) + 1 }), {}))
    .map(([status, n]) => `${status}: ${n}`)
    .join(', ');
  out(`${label}: ${results.length} requests in ${ms(elapsedMs)} -> ${((results.length / elapsedMs) * 1000).toFixed(0)} req/s, ` +
    `${((ok / elapsedMs) * 1000).toFixed(0)} ${okStatus}/s`);
  out(`  statuses { ${byStatus} }; latency p50 ${ms(percentile(sorted, 50))}, p95 ${ms(percentile(sorted, 95))}, p99 ${ms(percentile(sorted, 99))}, max ${ms(sorted.at(-1) ?? 0)}`);
  return ok;
}

const bench = await startBenchStack({ POSTGRES_POOL_MAX: '10' });
const { sql, config } = bench;
const servers: RunningServer[] = [];
let failed = false;
try {
  for (let i = 0; i < 2; i++) servers.push(await startServer(config, { log: pino({ level: 'silent' }), handleSignals: false, exit: () => {} }));
  const { organizerId, tokens } = await benchPeople(sql, config, buyerCount);
  const sale = await benchEvent(sql, organizerId, capacity);
  const event = { id: sale.eventId };
  const type = { id: sale.ticketTypeId };
  const body = JSON.stringify({ eventId: event.id, items: [{ ticketTypeId: type.id, quantity: 1 }] });

  out(`purchase spike: ${requests} hold requests for ${capacity} tickets, ${concurrency} in flight, ${buyerCount} buyers, 2 instances`);
  const holds: { id: string; paymentId: string; token: string }[] = [];
  const started = performance.now();
  const results = await fire(requests, concurrency, async (i) => {
    const token = tokens[i % buyerCount]!;
    const res = await fetch(`${servers[i % 2]!.url}/api/v1/purchases`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
      body,
    });
    const json = (await res.json()) as { id?: string; payment?: { paymentId: string } };
    if (res.status === 201 && json.id && json.payment) holds.push({ id: json.id, paymentId: json.payment.paymentId, token });
    return res.status;
  });
  const held = report('holds', results, performance.now() - started, 201);
  const expected = Math.min(capacity, requests);
  if (held !== expected) {
    failed = true;
    out(`  PROMISE BROKEN: ${held} held, expected exactly ${expected}`);
  }

  if (values.pay) {
    const paidStart = performance.now();
    const paid = await fire(holds.length, concurrency, async (i) => {
      const hold = holds[i]!;
      const res = await fetch(`${servers[i % 2]!.url}/api/v1/sandbox/payments/${hold.paymentId}/succeed`, {
        method: 'POST',
        headers: { authorization: `Bearer ${hold.token}`, 'content-type': 'application/json' },
        body: '{}',
      });
      await res.arrayBuffer();
      return res.status;
    });
    // Payments are confirmed by the payment-events workers: wait (bounded) until every one is.
    for (let waited = 0; waited < 600; waited++) {
      const [row] = await sql<{ n: number }[]>`select count(*)::int as n from purchases where event_id = ${event.id} and state = 'confirmed'`;
      if (row!.n >= holds.length) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    report('payments (accepted, then confirmed by the workers)', paid, performance.now() - paidStart, 200);
  }

  const [check] = await sql<{ sold: number; tickets: number; live: number }[]>`
    select (select sold from ticket_types where id = ${type.id}) as sold,
           (select count(*)::int from tickets where event_id = ${event.id}) as tickets,
           (select count(*)::int from purchases where event_id = ${event.id} and state in ('reserving', 'held', 'paying', 'confirming')) as live`;
  out(`after: sold ${check!.sold} of ${capacity}, ${check!.tickets} tickets, ${check!.live} purchases still holding`);
  if (check!.sold > capacity || check!.sold !== check!.tickets || (values.pay && check!.sold !== expected)) {
    failed = true;
    out('  PROMISE BROKEN: sold, tickets and capacity disagree');
  }
} finally {
  for (const server of servers) await server.lifecycle.shutdown('load test over');
  await bench.stop();
}
process.exit(failed ? 1 : 0);
