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
import { loadConfig } from '../server/config.ts';
import { createAccessTokens, TOKEN_AUDIENCE, TOKEN_ISSUER } from '../server/identity/index.ts';
import { startLocalStack } from '../server/local/index.ts';
import { startServer, type RunningServer } from '../server/server.ts';
import { createPostgres, migrateUp } from '../server/store/index.ts';

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

const stack = await startLocalStack({ profile: 'test', postgres: true, redis: true, log: () => {} });
const servers: RunningServer[] = [];
let failed = false;
try {
  const sql = createPostgres({ url: stack.postgres!.url, poolMax: 4 });
  await migrateUp(sql);
  const config = loadConfig({
    NODE_ENV: 'development',
    DATABASE_URL: stack.postgres!.url,
    REDIS_URL: stack.redis!.url,
    PORT: '0',
    LOG_LEVEL: 'silent',
    RATE_LIMIT_GLOBAL_PER_MINUTE: '10000000',
    RATE_LIMIT_PURCHASES_PER_USER_PER_MINUTE: '10000000',
    MAX_TICKETS_PER_CUSTOMER_PER_EVENT: '1000',
    POSTGRES_POOL_MAX: '10',
  });
  for (let i = 0; i < 2; i++) servers.push(await startServer(config, { log: pino({ level: 'silent' }), handleSignals: false, exit: () => {} }));

  const tag = randomUUID().slice(0, 8);
  const users = await sql<{ id: string }[]>`
    insert into users (email, role, email_verified_at)
    select ${`spike-${tag}-`} || n || '@example.com', 'customer', now() from generate_series(1, ${buyerCount + 1}) n returning id`;
  const signer = createAccessTokens({ secret: config.auth.jwtSecret, issuer: TOKEN_ISSUER, audience: TOKEN_AUDIENCE, ttlSeconds: 3600 });
  const tokens = await Promise.all(users.map(async (u) => (await signer.sign({ userId: u.id, sessionId: randomUUID(), role: 'customer' })).token));
  const [event] = await sql<{ id: string }[]>`
    insert into events (organizer_id, slug, title, timezone, starts_at, ends_at, sales_start_at, sales_end_at, status, published_at)
    values (${users[0]!.id}, ${`spike-${tag}`}, 'Spike', 'UTC', now() + interval '30 days', now() + interval '31 days',
            now() - interval '1 minute', now() + interval '29 days', 'published', now()) returning id`;
  const [type] = await sql<{ id: string }[]>`
    insert into ticket_types (event_id, name, kind, price_minor, currency, capacity)
    values (${event!.id}, 'Standing', 'general', 4500, 'EUR', ${capacity}) returning id`;
  const body = JSON.stringify({ eventId: event!.id, items: [{ ticketTypeId: type!.id, quantity: 1 }] });

  out(`purchase spike: ${requests} hold requests for ${capacity} tickets, ${concurrency} in flight, ${buyerCount} buyers, 2 instances`);
  const holds: { id: string; paymentId: string; token: string }[] = [];
  const started = performance.now();
  const results = await fire(requests, concurrency, async (i) => {
    const token = tokens[1 + (i % buyerCount)]!;
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
      const [row] = await sql<{ n: number }[]>`select count(*)::int as n from purchases where event_id = ${event!.id} and state = 'confirmed'`;
      if (row!.n >= holds.length) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    report('payments (accepted, then confirmed by the workers)', paid, performance.now() - paidStart, 200);
  }

  const [check] = await sql<{ sold: number; tickets: number; live: number }[]>`
    select (select sold from ticket_types where id = ${type!.id}) as sold,
           (select count(*)::int from tickets where event_id = ${event!.id}) as tickets,
           (select count(*)::int from purchases where event_id = ${event!.id} and state in ('reserving', 'held', 'paying', 'confirming')) as live`;
  out(`after: sold ${check!.sold} of ${capacity}, ${check!.tickets} tickets, ${check!.live} purchases still holding`);
  if (check!.sold > capacity || check!.sold !== check!.tickets || (values.pay && check!.sold !== expected)) {
    failed = true;
    out('  PROMISE BROKEN: sold, tickets and capacity disagree');
  }
  await sql.end();
} finally {
  for (const server of servers) await server.lifecycle.shutdown('load test over');
  await stack.stop();
}
process.exit(failed ? 1 : 0);
