// A load-generator child process: opens watchers or runs buyers as its parent asks (over IPC), so
// the clients' work is spread over processes and never shares an event loop with a server node.
// It exits when told, when its parent goes away, or at its deadline.
import { purchaseUpdates, runBuyer, type AdmissionGate, type BuyerRecord, type PurchaseUpdates } from './buyer.ts';
import { createHttpClient } from './http-client.ts';
import type { BuyerPlan } from './plan.ts';
import { waitingRoomGate } from './waiting-room.ts';
import { openWatchers, type WatcherReport } from './watchers.ts';

/** How a worker's buyers go about it: where, how long, and how they learn of admissions and confirmations. */
export interface BuyerWork {
  urls: string[];
  deadline: number;
  requestTimeoutMs: number;
  confirmTimeoutMs: number;
  holdOnly: boolean;
  confirmVia: 'socket' | 'poll';
  waitingRoom: boolean;
}

export type ToWorker =
  | { type: 'watchers'; assignments: { url: string; eventId: string }[]; deadline: number }
  | { type: 'watchers-reset' }
  | { type: 'watchers-report' }
  | ({ type: 'buyers'; buyers: BuyerPlan[] } & BuyerWork)
  | { type: 'go'; t0: number }
  | { type: 'stop' };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'watchers-ready'; connected: number; failed: number }
  | { type: 'watchers-reset' }
  | { type: 'watchers-report'; report: WatcherReport }
  | { type: 'buyers-ready'; sockets: number; socketsFailed: number }
  | { type: 'buyers-done'; records: BuyerRecord[]; cpuMs: number }
  | { type: 'failed'; message: string };

const send = (message: FromWorker): void => void process.send?.(message);
let watchers: Awaited<ReturnType<typeof openWatchers>> | null = null;
let crowd: Extract<ToWorker, { type: 'buyers' }> | null = null;
const sockets = new Map<number, PurchaseUpdates>();

/** Payers' own sockets, opened before the sale (paced, bounded by the deadline). */
async function openBuyerSockets(work: Extract<ToWorker, { type: 'buyers' }>): Promise<void> {
  if (work.holdOnly || (work.confirmVia !== 'socket' && !work.waitingRoom)) return;
  // Payers learn of confirmations on their socket; in a waiting room every visitor waits on one.
  const payers = work.waitingRoom ? work.buyers : work.buyers.filter((b) => b.outcome === 'pay');
  for (const [i, buyer] of payers.entries()) {
    sockets.set(buyer.index, purchaseUpdates(work.urls[buyer.index % work.urls.length]!, buyer.token));
    if (i % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await Promise.race([Promise.all([...sockets.values()].map((s) => s.ready)), new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(60_000, work.deadline - Date.now()))))]);
}

async function handle(message: ToWorker): Promise<void> {
  switch (message.type) {
    case 'watchers':
      setTimeout(() => process.exit(3), Math.max(0, message.deadline - Date.now()) + 30_000).unref();
      watchers = await openWatchers(message.assignments, message.deadline);
      return send({ type: 'watchers-ready', connected: watchers.report().connected, failed: watchers.report().failed });
    case 'watchers-reset':
      watchers?.resetArrivals();
      return send({ type: 'watchers-reset' });
    case 'watchers-report':
      return send({ type: 'watchers-report', report: watchers!.report() });
    case 'buyers': {
      setTimeout(() => process.exit(3), Math.max(0, message.deadline - Date.now()) + 30_000).unref();
      crowd = message;
      await openBuyerSockets(message);
      const open = [...sockets.values()].filter((s) => s.isConnected()).length;
      return send({ type: 'buyers-ready', sockets: open, socketsFailed: sockets.size - open });
    }
    case 'go': {
      const work = crowd!;
      const cpu = process.cpuUsage();
      const http = createHttpClient({ timeoutMs: work.requestTimeoutMs, maxSockets: 2048 });
      const gate: AdmissionGate | null = work.waitingRoom ? waitingRoomGate(http, work.deadline) : null;
      const context = {
        http,
        urls: work.urls,
        t0: message.t0,
        confirmTimeoutMs: work.confirmTimeoutMs,
        holdOnly: work.holdOnly,
        socketOf: (index: number) => sockets.get(index) ?? null,
        gate,
        deadline: work.deadline,
      };
      const records = await Promise.all(work.buyers.map((b) => runBuyer(b, context)));
      http.close();
      const used = process.cpuUsage(cpu);
      return send({ type: 'buyers-done', records, cpuMs: (used.user + used.system) / 1000 });
    }
    case 'stop':
      watchers?.close();
      for (const socket of sockets.values()) socket.close();
      setTimeout(() => process.exit(0), 100);
  }
}

process.on('message', (message: ToWorker) => {
  handle(message).catch((err: unknown) => send({ type: 'failed', message: String((err as Error).stack ?? err) }));
});
// The parent is gone (killed, crashed): nothing left to report to.
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
