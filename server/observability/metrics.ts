// The metrics of one node, in a registry of its own (two nodes in one process do not mix): what
// the sale does (holds, confirms, refunds, oversells stopped), the live and door traffic, the
// queues, HTTP latency and the promise that no money is kept without a ticket. Counters count on
// this node; gauges read from Postgres or the queues report the whole deployment (use max() over
// nodes, not sum()). Served as Prometheus text by metrics-route.ts.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Where the gauges that describe the deployment read their values, supplied once it is wired. */
export interface MetricSources {
  /** Purchases holding inventory now (held or paying). */
  liveHolds?: () => Promise<number>;
  /** Socket.IO connections open on this node. */
  watchersConnected?: () => number;
  /** Jobs per queue and state. */
  queueJobs?: () => Promise<{ queue: string; state: string; count: number }[]>;
  /** Succeeded payments with neither tickets nor a refund (promise 3 of the design: must be 0). */
  paidWithoutTicketOrRefund?: () => Promise<number>;
  /** Visitors in line in every waiting room. */
  waitingRoomWaiting?: () => Promise<number>;
  /** This node's clock offset to the database's, ms (database minus node). */
  storeClockOffsetMs?: () => number;
}

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const sources: MetricSources = {};

  const metrics = {
    registry,
    holdsPlaced: new Counter({ name: 'boxoffice_holds_placed_total', help: 'Holds placed (a purchase reached held).', registers }),
    holdsRejected: new Counter({
      name: 'boxoffice_holds_rejected_total',
      help: 'Holds refused, by reason (sold_out, seat_taken, not_on_sale), whether Redis said no before or after the purchase was written.',
      labelNames: ['reason'] as const,
      registers,
    }),
    holdsExpired: new Counter({ name: 'boxoffice_holds_expired_total', help: 'Holds released because their deadline passed unpaid.', registers }),
    purchasesConfirmed: new Counter({ name: 'boxoffice_purchases_confirmed_total', help: 'Purchases confirmed (tickets issued).', registers }),
    refunds: new Counter({
      name: 'boxoffice_refunds_total',
      help: 'Refunds begun, by why: cannot_issue (paid, but no tickets could be issued), requested, partial, paid_after_cancel.',
      labelNames: ['kind'] as const,
      registers,
    }),
    oversellStopped: new Counter({
      name: 'boxoffice_oversell_stopped_total',
      help: 'Ticket issues refused by the Postgres guard (capacity or a seat already sold): an oversell that did not happen.',
      registers,
    }),
    transitions: new Counter({
      name: 'boxoffice_purchase_transitions_total',
      help: 'Committed purchase transitions, by state left and state entered (from is "none" for a new purchase).',
      labelNames: ['from', 'to'] as const,
      registers,
    }),
    liveHolds: new Gauge({
      name: 'boxoffice_live_holds',
      help: 'Purchases holding inventory now (held or paying), across the deployment.',
      registers,
      async collect() {
        if (sources.liveHolds) this.set(await sources.liveHolds());
      },
    }),
    watchersConnected: new Gauge({
      name: 'boxoffice_watchers_connected',
      help: 'Socket.IO connections open on this node.',
      registers,
      collect() {
        if (sources.watchersConnected) this.set(sources.watchersConnected());
      },
    }),
    broadcastLag: new Histogram({
      name: 'boxoffice_broadcast_lag_seconds',
      help: 'From the oldest availability change in an update to the update leaving this node.',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers,
    }),
    scannerValidations: new Counter({
      name: 'boxoffice_scanner_validations_total',
      help: 'Tickets checked at the door, by outcome (admitted, already_admitted, revoked, ...).',
      labelNames: ['outcome'] as const,
      registers,
    }),
    queueJobs: new Gauge({
      name: 'boxoffice_queue_jobs',
      help: 'Jobs per queue and state (waiting, active, delayed, failed), across the deployment.',
      labelNames: ['queue', 'state'] as const,
      registers,
      async collect() {
        if (!sources.queueJobs) return;
        for (const { queue, state, count } of await sources.queueJobs()) this.set({ queue, state }, count);
      },
    }),
    queueFailures: new Counter({
      name: 'boxoffice_queue_failures_total',
      help: 'Job attempts that failed on this node, by queue (a retried job counts each failed attempt).',
      labelNames: ['queue'] as const,
      registers,
    }),
    httpDuration: new Histogram({
      name: 'boxoffice_http_request_duration_seconds',
      help: 'HTTP request duration, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    paidWithoutTicketOrRefund: new Gauge({
      name: 'boxoffice_paid_without_ticket_or_refund',
      help: 'Succeeded payments whose purchase has neither tickets nor a refund (past a 15 minute grace). Must be 0.',
      registers,
      async collect() {
        if (sources.paidWithoutTicketOrRefund) this.set(await sources.paidWithoutTicketOrRefund());
      },
    }),
    waitingRoomWaiting: new Gauge({
      name: 'boxoffice_waiting_room_waiting',
      help: 'Visitors in line in the waiting rooms, across the deployment.',
      registers,
      async collect() {
        if (sources.waitingRoomWaiting) this.set(await sources.waitingRoomWaiting());
      },
    }),
    waitingRoomAdmitted: new Counter({
      name: 'boxoffice_waiting_room_admitted_total',
      help: 'Visitors admitted from a waiting room by admission rounds on this node.',
      registers,
    }),
    waitingRoomExpired: new Counter({
      name: 'boxoffice_waiting_room_expired_without_hold_total',
      help: 'Admitted visitors who placed no hold within their window and lost their turn (seen on this node).',
      registers,
    }),
    storeClockOffset: new Gauge({
      name: 'boxoffice_store_clock_offset_seconds',
      help: "The database's clock minus this node's, as this node last measured it (hold deadlines follow the database's).",
      registers,
      collect() {
        if (sources.storeClockOffsetMs) this.set(sources.storeClockOffsetMs() / 1000);
      },
    }),
    /** Names where the deployment-wide gauges read from (called once, when the node is wired). */
    readFrom(more: MetricSources): void {
      Object.assign(sources, more);
    },
  };
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;
