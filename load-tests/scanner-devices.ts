// Load test: scanners at the door. One server node; D devices connected over /scanner/v1 (in a
// child process, so the server's CPU is its own), each validating ticket codes back to back for a
// bounded number of rounds. About half the scans admit a ticket, the rest find it already admitted
// (two doors, one crowd). Prints validations per second and latency percentiles, and checks that
// no ticket was admitted twice.
//
//   npm run load:scanner-devices [-- --devices 200 --tickets 2000 --scans 10000]
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import pino from 'pino';
import WebSocket from 'ws';
import { startServer } from '../server/server.ts';
import { benchEvent, benchPeople, startBenchStack } from './harness.ts';

const { values } = parseArgs({
  options: {
    role: { type: 'string', default: 'main' },
    devices: { type: 'string', default: '200' },
    tickets: { type: 'string', default: '2000' },
    scans: { type: 'string', default: '10000' },
    url: { type: 'string' },
  },
});
const clamp = (v: string | undefined, min: number, max: number) => Math.min(max, Math.max(min, Math.floor(Number(v))));
const out = (line: string) => process.stdout.write(`${line}\n`);

/** Child: the devices. Reads { tokens, codes } from the parent, scans, reports latencies. */
async function devices(): Promise<void> {
  const { tokens, codes, scans } = await new Promise<{ tokens: string[]; codes: string[]; scans: number }>((resolve) => process.once('message', resolve));
  const sockets = await Promise.all(
    tokens.map(
      (token) =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(`${values.url!.replace(/^http/, 'ws')}/scanner/v1`, { headers: { authorization: `Bearer ${token}` } });
          ws.once('open', () => resolve(ws));
          ws.once('error', reject);
        }),
    ),
  );
  const latencies: number[] = [];
  const outcomes: Record<string, number> = {};
  let next = 0;
  const started = performance.now();
  await Promise.all(
    sockets.map(async (ws) => {
      const waiting = new Map<string, (outcome: string) => void>();
      ws.on('message', (data: Buffer) => {
        const reply = JSON.parse(data.toString('utf8')) as { requestId?: string; outcome?: string; code?: string };
        if (reply.requestId) waiting.get(reply.requestId)?.(reply.outcome ?? reply.code ?? 'error');
      });
      while (next < scans) {
        // Each code is scanned twice, by two different devices, one after the other.
        const i = next++;
        const code = codes[Math.floor(i / 2) % codes.length]!;
        const requestId = randomUUID();
        const t0 = performance.now();
        const outcome = await new Promise<string>((resolve) => {
          waiting.set(requestId, resolve);
          ws.send(JSON.stringify({ type: 'validate', requestId, code }));
        });
        waiting.delete(requestId);
        latencies.push(performance.now() - t0);
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      }
      ws.close();
    }),
  );
  process.send?.({ latencies, outcomes, elapsedMs: performance.now() - started });
  setTimeout(() => process.exit(0), 100);
}

async function main(): Promise<void> {
  const deviceCount = clamp(values.devices, 1, 2_000);
  const ticketCount = clamp(values.tickets, 2, 50_000);
  const scans = clamp(values.scans, 1, 1_000_000);
  const bench = await startBenchStack({ SCANNER_MESSAGES_PER_SECOND: '100000', SCANNER_ADMIT_FROM_HOURS: '2000', POSTGRES_POOL_MAX: '10' });
  const { sql, config } = bench;
  let failed = false;
  try {
    const server = await startServer(config, { log: pino({ level: 'silent' }), handleSignals: false, exit: () => {} });
    const { organizerId } = await benchPeople(sql, config, 1);
    const sale = await benchEvent(sql, organizerId, ticketCount);
    // Tickets as the confirm step issues them (signed codes), under one bulk purchase row.
    const purchaseId = randomUUID();
    await sql`
      insert into purchases (id, event_id, customer_id, state, snapshot, version, amount_minor, currency, idempotency_key, request_hash)
      values (${purchaseId}, ${sale.eventId}, ${organizerId}, 'confirmed', '{}'::jsonb, 1, 0, 'EUR', ${randomUUID()}, 'bench')`;
    const codes: string[] = [];
    for (let i = 0; i < ticketCount; i++) {
      const ticketId = randomUUID();
      const code = await server.purchases.ticketSigner.codeFor({ ticketId, eventId: sale.eventId, ticketTypeId: sale.ticketTypeId, seatId: null, issuedAt: new Date() });
      codes.push(code);
      await sql`insert into tickets (id, purchase_id, event_id, ticket_type_id, code) values (${ticketId}, ${purchaseId}, ${sale.eventId}, ${sale.ticketTypeId}, ${code})`;
    }
    const tokens: string[] = [];
    for (let i = 0; i < deviceCount; i++) {
      const { token } = await server.identity.devices.create(sale.eventId, `Door ${i + 1}`, organizerId);
      tokens.push(token);
    }

    const child = fork(new URL(import.meta.url).pathname, ['--role', 'devices', '--url', server.url], { execArgv: ['--import', 'tsx'] });
    const cpuBefore = process.cpuUsage();
    child.send({ tokens, codes, scans });
    const report = await new Promise<{ latencies: number[]; outcomes: Record<string, number>; elapsedMs: number }>((resolve) => child.once('message', resolve));
    const cpu = process.cpuUsage(cpuBefore);
    const sorted = report.latencies.sort((a, b) => a - b);
    const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!.toFixed(1);
    out(`scanner devices: ${deviceCount} devices, ${ticketCount} tickets, ${scans} scans (each code scanned again and again by different devices)`);
    out(`validations: ${scans} in ${report.elapsedMs.toFixed(0)} ms -> ${((scans / report.elapsedMs) * 1000).toFixed(0)}/s`);
    out(`latency: p50 ${pct(50)} ms, p95 ${pct(95)} ms, p99 ${pct(99)} ms, max ${sorted.at(-1)!.toFixed(1)} ms`);
    out(`outcomes: ${JSON.stringify(report.outcomes)}`);
    out(`server process CPU: ${(((cpu.user + cpu.system) / 1000 / report.elapsedMs) * 100).toFixed(0)}% of one core`);
    const [twice] = await sql<{ admitted: number; logged: number }[]>`
      select (select count(*)::int from tickets where event_id = ${sale.eventId} and admitted_at is not null) as admitted,
             (select count(*)::int from checkins where event_id = ${sale.eventId} and outcome = 'admitted') as logged`;
    if (twice!.admitted !== twice!.logged || twice!.admitted !== (report.outcomes['admitted'] ?? 0)) {
      failed = true;
      out(`  PROMISE BROKEN: ${twice!.admitted} tickets admitted, ${twice!.logged} admissions logged, ${report.outcomes['admitted']} answered admitted`);
    }
    await server.lifecycle.shutdown('load test over');
  } finally {
    await bench.stop();
  }
  process.exit(failed ? 1 : 0);
}

if (values.role === 'devices') void devices();
else await main();
