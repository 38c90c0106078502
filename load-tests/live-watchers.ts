// Load test: live availability with thousands of watchers. One server node (this process) on a
// throwaway PostgreSQL and Redis; watchers are socket.io-client sockets split over child processes;
// a third child fires a storm of holds at a fixed rate. Prints the time from a hold's commit to the
// last watcher seeing the new count (p50/p99), messages sent per second, and the server's CPU and
// memory per 1,000 sockets. Bounded: it stops by itself.
//
//   npm run load:live-watchers [-- --sockets 5000 --holds 1000 --rate 200]
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { io } from 'socket.io-client';
import { startServer } from '../server/server.ts';
import { benchEvent, benchPeople, startBenchStack } from './harness.ts';

const { values } = parseArgs({
  options: {
    role: { type: 'string', default: 'main' },
    sockets: { type: 'string', default: '5000' },
    holds: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '200' },
    url: { type: 'string' },
    event: { type: 'string' },
    type: { type: 'string' },
  },
});
const clamp = (v: string | undefined, min: number, max: number) => Math.min(max, Math.max(min, Math.floor(Number(v))));
const out = (line: string) => process.stdout.write(`${line}\n`);
const send = (message: unknown) => process.send?.(message);

/** Child: open `sockets` watchers; report, per update version, its change time and the last arrival. */
async function watchers(): Promise<void> {
  const count = clamp(values.sockets, 1, 20_000);
  const arrivals = new Map<number, { since: number; last: number }>();
  const sockets: ReturnType<typeof io>[] = [];
  let connected = 0;
  for (let i = 0; i < count; i++) {
    const socket = io(values.url, { transports: ['websocket'], reconnection: false, forceNew: true });
    socket.on('availability', (u: { version: number; since: number }) => {
      const now = Date.now();
      const entry = arrivals.get(u.version);
      if (entry) entry.last = Math.max(entry.last, now);
      else arrivals.set(u.version, { since: u.since, last: now });
    });
    socket.on('connect', () => {
      void socket.emitWithAck('watch', { eventId: values.event }).then(() => {
        if (++connected === count) send({ ready: true });
      });
    });
    sockets.push(socket);
    if (i % 200 === 199) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  process.on('message', (m: { done?: boolean }) => {
    if (!m.done) return;
    send({ arrivals: [...arrivals] });
    for (const s of sockets) s.disconnect();
    setTimeout(() => process.exit(0), 200);
  });
}

/** Child: `holds` single-ticket holds at `rate` per second; reports each one's commit time. */
async function storm(): Promise<void> {
  const total = clamp(values.holds, 1, 100_000);
  const rate = clamp(values.rate, 1, 10_000);
  const tokens = JSON.parse(process.env['SPIKE_TOKENS'] ?? '[]') as string[];
  const commits: number[] = [];
  const started = Date.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
    inflight.push(
      fetch(`${values.url}/api/v1/purchases`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens[i % tokens.length]}`, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
        body: JSON.stringify({ eventId: values.event, items: [{ ticketTypeId: values.type, quantity: 1 }] }),
      }).then(async (res) => {
        await res.arrayBuffer();
        if (res.status === 201) commits.push(Date.now());
      }),
    );
  }
  await Promise.all(inflight);
  send({ commits, elapsedMs: Date.now() - started });
  setTimeout(() => process.exit(0), 100);
}

function child(role: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  return fork(new URL(import.meta.url).pathname, ['--role', role, ...args], { execArgv: ['--import', 'tsx'], env: { ...process.env, ...env } });
}

const once = <T>(proc: ChildProcess, key: string): Promise<T> =>
  new Promise((resolve) => {
    const on = (m: Record<string, unknown>) => {
      if (key in m) {
        proc.off('message', on);
        resolve(m as T);
      }
    };
    proc.on('message', on);
  });

async function main(): Promise<void> {
  const socketsWanted = clamp(values.sockets, 1, 20_000);
  const holds = clamp(values.holds, 1, 100_000);
  const bench = await startBenchStack({ LIVE_MAX_CONNECTIONS_PER_IP: String(socketsWanted + 100) });
  const { sql, config } = bench;
  try {
    const server = await startServer(config, { log: pino({ level: 'silent' }), handleSignals: false, exit: () => {} });
    const people = await benchPeople(sql, config, 200);
    const tokens = people.tokens;
    const sale = await benchEvent(sql, people.organizerId, holds);
    const event = { id: sale.eventId };
    const type = { id: sale.ticketTypeId };
    const common = ['--url', server.url, '--event', event.id, '--type', type.id];

    const memBefore = process.memoryUsage().rss;
    const groups = [Math.ceil(socketsWanted / 2), Math.floor(socketsWanted / 2)].filter((n) => n > 0);
    const watcherProcs = groups.map((n) => child('watchers', [...common, '--sockets', String(n)]));
    await Promise.all(watcherProcs.map((p) => once(p, 'ready')));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const memAfter = process.memoryUsage().rss;
    out(`live watchers: ${server.live.stats().sockets} sockets on one node; ${holds} holds at ${values.rate}/s`);

    const statsBefore = server.live.stats();
    const cpuBefore = process.cpuUsage();
    const wallBefore = performance.now();
    const stormProc = child('storm', [...common, '--holds', String(holds), '--rate', String(values.rate)], { SPIKE_TOKENS: JSON.stringify(tokens) });
    const { commits: responses, elapsedMs } = await once<{ commits: number[]; elapsedMs: number }>(stormProc, 'commits');
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const cpu = process.cpuUsage(cpuBefore);
    const wall = performance.now() - wallBefore;
    const statsAfter = server.live.stats();
    for (const p of watcherProcs) p.send({ done: true });
    const reports = await Promise.all(watcherProcs.map((p) => once<{ arrivals: [number, { since: number; last: number }][] }>(p, 'arrivals')));
    // Per update: from its oldest change (a hold placed in Redis) to its arrival at the last watcher.
    const byVersion = new Map<number, { since: number; last: number }>();
    for (const r of reports) {
      for (const [version, a] of r.arrivals) {
        const seen = byVersion.get(version);
        byVersion.set(version, { since: a.since, last: Math.max(seen?.last ?? 0, a.last) });
      }
    }
    const latencies = [...byVersion.values()].map((a) => a.last - a.since).sort((x, y) => x - y);
    const pct = (p: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN);
    const perThousand = (bytes: number) => `${((bytes / Math.max(1, socketsWanted)) * 1000 / 1024 / 1024).toFixed(1)} MiB`;
    out(`holds: ${responses.length} answered 201 in ${elapsedMs} ms (${((responses.length / elapsedMs) * 1000).toFixed(0)}/s)`);
    out(`hold placed -> last watcher has the update: p50 ${pct(50)} ms, p99 ${pct(99)} ms, max ${Math.round(latencies.at(-1) ?? NaN)} ms (${latencies.length} updates)`);
    out(`messages sent: ${statsAfter.messages - statsBefore.messages} in ${(wall / 1000).toFixed(1)} s -> ${(((statsAfter.messages - statsBefore.messages) / wall) * 1000).toFixed(0)}/s; ${statsAfter.flushes - statsBefore.flushes} flushes`);
    out(`server process CPU during the storm: ${(((cpu.user + cpu.system) / 1000 / wall) * 100).toFixed(0)}% of one core (includes the node's HTTP, PostgreSQL and Redis client work)`);
    out(`server memory: rss +${((memAfter - memBefore) / 1024 / 1024).toFixed(0)} MiB for ${socketsWanted} sockets (${perThousand(memAfter - memBefore)} per 1,000)`);
    await server.lifecycle.shutdown('load test over');
  } finally {
    await bench.stop();
  }
  process.exit(0);
}

if (values.role === 'watchers') void watchers();
else if (values.role === 'storm') void storm();
else await main();
