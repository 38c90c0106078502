// The crowd over its worker processes: buyers split round-robin (so every worker sees the whole
// ramp), all starting from one instant; watchers spread over the events and nodes, opened before
// the ramp, asked at the end what they saw.
import type { BuyerRecord } from './buyer.ts';
import { createHttpClient } from './http-client.ts';
import { holdBody, type BuyerPlan, type SaleEvent } from './plan.ts';
import type { WatcherReport } from './watchers.ts';
import type { BuyerWork } from './worker.ts';
import { forkWorker, type WorkerHandle } from './workers.ts';

/** Time between the go and the first arrival (every worker has it by then). */
const LEAD_MS = 500;

export function forkWorkers(count: number, label: string): Promise<WorkerHandle[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => forkWorker(`${label} ${i + 1}`)));
}

export interface DriveSettings extends BuyerWork {
  /** Called once the payers' sockets are open, just before the ramp starts. */
  onReady?: (sockets: { open: number; failed: number }) => Promise<void> | void;
}

export async function driveBuyers(workers: readonly WorkerHandle[], plans: readonly BuyerPlan[], settings: DriveSettings) {
  const { onReady, ...work } = settings;
  workers.forEach((worker, w) => worker.send({ type: 'buyers', buyers: plans.filter((p) => p.index % workers.length === w), ...work }));
  const ready = await Promise.all(workers.map((worker) => worker.next('buyers-ready', Math.max(1_000, settings.deadline - Date.now()))));
  const sockets = { open: ready.reduce((sum, r) => sum + r.sockets, 0), failed: ready.reduce((sum, r) => sum + r.socketsFailed, 0) };
  await onReady?.(sockets);
  const t0 = Date.now() + LEAD_MS;
  for (const worker of workers) worker.send({ type: 'go', t0 });
  const done = await Promise.all(workers.map((worker) => worker.next('buyers-done', Math.max(1_000, settings.deadline - Date.now() + 20_000))));
  const records: BuyerRecord[] = done.flatMap((d) => d.records).sort((a, b) => a.index - b.index);
  return { records, t0, sockets, generatorCpuMs: done.reduce((sum, d) => sum + d.cpuMs, 0) };
}

/** Watcher i watches event i % E on node i % N; in `processes` workers. */
export async function openWatchers(count: number, processes: number, urls: readonly string[], eventIds: readonly string[], deadline: number) {
  const workers = count > 0 ? await forkWorkers(Math.min(processes, count), 'watchers') : [];
  const assignments = Array.from({ length: count }, (_, i) => ({ url: urls[i % urls.length]!, eventId: eventIds[i % eventIds.length]! }));
  workers.forEach((worker, w) => worker.send({ type: 'watchers', assignments: assignments.filter((_, i) => i % workers.length === w), deadline }));
  const ready = await Promise.all(workers.map((worker) => worker.next('watchers-ready', Math.max(1_000, deadline - Date.now()))));
  const watchersOf: Record<string, number> = {};
  for (const a of assignments) watchersOf[a.eventId] = (watchersOf[a.eventId] ?? 0) + 1;
  return {
    workers,
    connected: ready.reduce((sum, r) => sum + r.connected, 0),
    failed: ready.reduce((sum, r) => sum + r.failed, 0),
    watchersOf,
    async resetArrivals() {
      for (const worker of workers) worker.send({ type: 'watchers-reset' });
      await Promise.all(workers.map((worker) => worker.next('watchers-reset', 10_000)));
    },
    async report(): Promise<WatcherReport> {
      for (const worker of workers) worker.send({ type: 'watchers-report' });
      const reports = await Promise.all(workers.map((worker) => worker.next('watchers-report', 30_000)));
      return {
        connected: reports.reduce((sum, r) => sum + r.report.connected, 0),
        failed: reports.reduce((sum, r) => sum + r.report.failed, 0),
        disconnected: reports.reduce((sum, r) => sum + r.report.disconnected, 0),
        resyncs: reports.reduce((sum, r) => sum + r.report.resyncs, 0),
        arrivals: reports.flatMap((r) => r.report.arrivals),
        views: reports.flatMap((r) => r.report.views),
      };
    },
    stop: () => Promise.all(workers.map((worker) => worker.stop())),
  };
}

/**
 * Before the ramp: `perNode` holds on the warm-up event at each node, 8 at a time, each cancelled
 * at once where the path has a cancel, so the crowd meets warm nodes (compiled code, open pools).
 */
export async function warmUp(urls: readonly string[], event: SaleEvent, tokens: readonly string[], perNode: number, cancel: boolean): Promise<void> {
  const http = createHttpClient({ timeoutMs: 30_000, maxSockets: 8 });
  const body = holdBody({ eventId: event.eventId, ticketTypeId: event.ticketTypeId, seatId: null });
  let next = 0;
  const total = perNode * urls.length;
  await Promise.all(
    Array.from({ length: Math.min(8, total) }, async () => {
      while (next < total) {
        const i = next++;
        const token = tokens[i % tokens.length]!;
        const api = `${urls[i % urls.length]}/api/v1`;
        const held = await http.call('POST', `${api}/purchases`, { token, body, headers: { 'idempotency-key': `warmup-${i}-${Date.now()}` } });
        if (cancel && held.status === 201) await http.call('POST', `${api}/purchases/${String(held.body?.['id'])}/cancel`, { token, body: '{}' });
      }
    }),
  );
  http.close();
}
