// Benchmark: importing a 100,000-seat map over HTTP (one request, one transaction, one bulk
// INSERT) and reading it back as the compact public seat map. Brings up a throwaway PostgreSQL and
// Redis, runs a bounded number of rounds on loopback, prints the figures and stops.
//
//   npm run bench:seat-map [-- --seats 100000 --rounds 3]
import { parseArgs } from 'node:util';
import pino from 'pino';
import { createAccessTokens, makeAdmin, TOKEN_AUDIENCE, TOKEN_ISSUER } from '../server/identity/index.ts';
import { startServer } from '../server/server.ts';
import { startBenchStack } from './harness.ts';

const { values } = parseArgs({ options: { seats: { type: 'string', default: '100000' }, rounds: { type: 'string', default: '3' } } });
const seats = Math.min(100_000, Math.max(1, Number(values.seats)));
const rounds = Math.min(10, Math.max(1, Number(values.rounds)));
const out = (line: string) => process.stdout.write(`${line}\n`);

const bench = await startBenchStack();
try {
  const { sql, config } = bench;
  const admin = await makeAdmin(sql, 'bench-admin@example.com');
  const server = await startServer(config, { log: pino({ level: 'silent' }), handleSignals: false, exit: () => {} });
  const token = (
    await createAccessTokens({ secret: config.auth.jwtSecret, issuer: TOKEN_ISSUER, audience: TOKEN_AUDIENCE, ttlSeconds: 900 }).sign({
      userId: admin.id,
      sessionId: crypto.randomUUID(),
      role: 'admin',
    })
  ).token;
  const api = `${server.url}/api/v1`;
  const send = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${api}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res;
  };

  const day = 24 * 3600 * 1000;
  const event = (await (
    await send('POST', '/organizer/events', {
      title: 'Stadium benchmark',
      timezone: 'UTC',
      startsAt: new Date(Date.now() + 30 * day),
      endsAt: new Date(Date.now() + 30.2 * day),
      salesStartAt: new Date(Date.now() - day),
      salesEndAt: new Date(Date.now() + 29 * day),
    })
  ).json()) as { id: string };
  const type = (await (
    await send('POST', `/organizer/events/${event.id}/ticket-types`, { name: 'Seat', kind: 'seated', priceMinor: 5000, currency: 'EUR' })
  ).json()) as { id: string };

  // 100 sections x N rows x 50 seats, numbered like a stadium.
  const perRow = 50;
  const rows = Math.ceil(seats / perRow);
  const sections: { name: string; rows: { label: string; ticketTypeId: string; seats: string[] }[] }[] = [];
  for (let r = 0; r < rows; r++) {
    const section = `S${Math.floor(r / Math.max(1, Math.ceil(rows / 100)))}`;
    if (sections.at(-1)?.name !== section) sections.push({ name: section, rows: [] });
    const count = Math.min(perRow, seats - r * perRow);
    sections.at(-1)!.rows.push({ label: `R${r}`, ticketTypeId: type.id, seats: Array.from({ length: count }, (_, i) => String(i + 1)) });
  }
  const body = { sections };
  const bytes = Buffer.byteLength(JSON.stringify(body));

  out(`seat-map import: ${seats} seats, ${sections.length} sections, request body ${(bytes / 1024).toFixed(0)} KiB, ${rounds} rounds`);
  const imports: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const started = performance.now();
    await send('PUT', `/organizer/events/${event.id}/seat-map`, body);
    imports.push(performance.now() - started);
  }
  await send('POST', `/organizer/events/${event.id}/publish`);
  const reads: number[] = [];
  let size = 0;
  for (let i = 0; i < rounds; i++) {
    const started = performance.now();
    const res = await fetch(`${api}/events/${event.id}/seat-map`);
    size = (await res.arrayBuffer()).byteLength;
    reads.push(performance.now() - started);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  out(`  import (replace) median ${median(imports).toFixed(0)} ms  (${(seats / (median(imports) / 1000)).toFixed(0)} seats/s)  rounds: ${imports.map((t) => t.toFixed(0)).join(', ')} ms`);
  out(`  public seat map  median ${median(reads).toFixed(0)} ms, ${(size / 1024).toFixed(0)} KiB  rounds: ${reads.map((t) => t.toFixed(0)).join(', ')} ms`);
  await server.lifecycle.shutdown('benchmark done');
} finally {
  await bench.stop();
}
