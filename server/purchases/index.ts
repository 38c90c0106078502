// Purchases: the durable purchase actors, their effects and timers, and their API. Wires the
// inventory, the payment provider and the queues together for one node.
import type { Config } from '../config.ts';
import type { Live } from '../live/index.ts';
import type { App } from '../http/types.ts';
import { createInventory } from '../inventory/index.ts';
import type { QueueSettings, RunningWorker } from '../jobs/index.ts';
import type { Logger, Metrics } from '../observability/index.ts';
import {
  createPaymentEventQueue,
  createPayments,
  createPaystackProvider,
  createSandboxProvider,
  createStripeProvider,
  paymentHealthRoutes,
  sandboxRoutes,
  startPaymentEventWorker,
  webhookRoutes,
  type PaymentOutcome,
  type PaymentProvider,
  type Payments,
} from '../payments/index.ts';
import { fixedOffsetClock, type Redis, type Sql, type StoreClock } from '../store/index.ts';
import type { AdmissionGate } from './admission-port.ts';
import { heldCounter, seatStateReader } from './availability.ts';
import { createTicketSigner } from '../scanning/index.ts';
import { createEffectRunner } from './effects.ts';
import { createPurchaseHost } from './host.ts';
import { countTransition, type TransitionNotice } from './purchase-metrics.ts';
import { rebuildAvailability, sellingEvents } from './reconcile.ts';
import { createRefunds } from './refunds.ts';
import { purchaseRoutes } from './routes.ts';
import { createHoldTimers, overdueHolds, startHoldTimerWorker } from './timers.ts';

export { createEffectRunner, type EffectDeps } from './effects.ts';
export { createPurchaseHost, type EffectRunner, type PurchaseHost, type PurchaseView, type StartRequest } from './host.ts';
export type { AdmissionGate } from './admission-port.ts';
export type { PaymentPort } from './payments-port.ts';
export { rebuildAvailability } from './reconcile.ts';
export { EVENT_REFUNDS_QUEUE } from './refunds.ts';
export { HOLD_TIMER_QUEUE } from './timers.ts';

export interface PurchasesDeps {
  config: Config;
  sql: Sql;
  redis: Redis;
  log: Logger;
  queues: QueueSettings;
  /** Live watchers and buyers (Socket.IO); told of availability and purchase changes. */
  live?: Pick<Live, 'changed' | 'purchaseChanged'>;
  /** The node's metrics: transitions are counted, and the sale's gauges read from here. */
  metrics?: Metrics;
  /** The waiting room's gate in front of holds (events with a room need an admission token). */
  admission?: AdmissionGate;
  /**
   * The clock hold deadlines are set and enforced on: the database's, shared by every node
   * (default: this node's own clock).
   */
  clock?: Pick<StoreClock, 'now'>;
}

/**
 * How often (in sweeps) selling events are reconciled with Postgres: whatever Redis lost (counts,
 * seats, the fencing counter) is rebuilt; what it has is left alone, since overwriting a count
 * while holds move could make it read high.
 */
const RECONCILE_EVERY_SWEEPS = 10;

/**
 * How old an unfinished effect must be before the sweep's relay runs it again: long enough not to
 * race its first run under load. A purchase whose node died before its hold was placed (and whose
 * buyer did not retry) gets its hold this long after it was created.
 */
export const RELAY_AFTER_MS = 30_000;

export function createPurchases({ config, sql, redis, log, queues, live, metrics, admission, clock = fixedOffsetClock() }: PurchasesDeps) {
  const inventory = createInventory(redis, config.redis.keyPrefix, clock.now);
  const paymentEvents = createPaymentEventQueue(queues, redis);
  // The sandbox reports through the payments service, which is built around the chosen provider.
  let payments: Payments | null = null;
  const sandbox = createSandboxProvider(sql, (outcome: PaymentOutcome) => payments!.receive('sandbox', { kind: 'outcome', outcome }, outcome));
  const providers: PaymentProvider[] = [];
  if (config.payments.stripe) providers.push(createStripeProvider(config.payments.stripe));
  if (config.payments.paystack) providers.push(createPaystackProvider(config.payments.paystack));
  const active = config.payments.provider === 'sandbox' ? sandbox.provider : providers.find((p) => p.name === config.payments.provider);
  if (!active) throw new Error(`PAYMENT_PROVIDER=${config.payments.provider} has no credentials configured`);
  payments = createPayments({ sql, provider: active, queue: paymentEvents, log });
  const timers = createHoldTimers(queues, redis, clock);
  const ticketSigner = createTicketSigner(sql, config.auth.jwtSecret);
  const host = createPurchaseHost({
    sql,
    log,
    onTransition(notice: TransitionNotice) {
      if (metrics) countTransition(metrics, notice);
      const { context } = notice.step.snapshot;
      live?.purchaseChanged(context.customerId, {
        purchaseId: notice.purchaseId,
        eventId: context.eventId,
        state: notice.step.to,
        version: notice.version,
        holdExpiresAt: notice.holdDeadline?.toISOString() ?? null,
      });
    },
    runEffect: createEffectRunner({
      sql,
      inventory,
      payments: payments.port,
      log,
      holdTtlMs: config.purchases.holdTtlMs,
      holdGraceMs: config.purchases.holdGraceMs,
      now: clock.now,
      onHoldPlaced: (purchaseId, deadline) => timers.schedule(purchaseId, deadline),
      ticketCodes: (facts) => ticketSigner.codeFor(facts),
      ...(live ? { onAvailabilityChanged: (eventId: string, seats: [string, 'free' | 'held' | 'sold'][]) => live.changed(eventId, seats) } : {}),
      rebuildCounts: async (eventId) => void (await rebuildAvailability(sql, inventory, eventId, { onlyIfMissing: true })),
    }),
  });

  const refunds = createRefunds({ sql, host, queues, redis, log });
  metrics?.readFrom({
    liveHolds: async () => (await sql<{ n: number }[]>`select count(*)::int as n from purchases where state in ('held', 'paying')`)[0]?.n ?? 0,
    paidWithoutTicketOrRefund: () => payments.paidWithoutTicketOrRefund(),
  });

  const expire = (purchaseId: string, now: number) => host.deliver(purchaseId, { type: 'hold.expired', now });
  let sweeps = 0;
  async function sweep(): Promise<void> {
    await payments!.reconcile(config.payments.reconcileAfterMs);
    for (const eventId of await refunds.pendingCancelledEvents()) await refunds.enqueueEvent(eventId);
    for (const purchaseId of await overdueHolds(sql, 2_000)) await expire(purchaseId, clock.now());
    await host.relay(RELAY_AFTER_MS);
    if (sweeps++ % RECONCILE_EVERY_SWEEPS === 0) {
      for (const eventId of await sellingEvents(sql)) await rebuildAvailability(sql, inventory, eventId, { onlyIfMissing: true });
    }
  }

  const background: RunningWorker[] = [];
  let timer: NodeJS.Timeout | undefined;
  let sweeping: Promise<void> | null = null;

  return {
    host,
    inventory,
    sandbox,
    payments,
    refunds,
    ticketSigner,
    sweep,
    /** What the catalog shows as held (units per ticket type, seats per event). */
    heldCount: heldCounter(sql),
    seatStates: seatStateReader(sql),
    routes: [
      purchaseRoutes({
        sql,
        host,
        inventory,
        payments,
        stripePublishableKey: config.payments.stripe?.publishableKey ?? null,
        maxTicketsPerCustomerPerEvent: config.purchases.maxTicketsPerCustomerPerEvent,
        ...(admission ? { admission } : {}),
        ...(metrics ? { onRefusedEarly: (reason: string) => metrics.holdsRejected.inc({ reason }) } : {}),
      }),
      ...(active === sandbox.provider ? [sandboxRoutes(sandbox)] : []),
      webhookRoutes(providers, payments),
      refunds.routes,
      paymentHealthRoutes(payments),
    ] as ((api: App) => void)[],
    /** The queue workers start() started (readiness checks each). */
    workers: (): readonly RunningWorker[] => background,
    /** Workers and the sweep: every node runs them. */
    start() {
      background.push(startPaymentEventWorker(queues, (ref) => payments.process(ref.provider, ref.eventId, (id, event) => host.deliver(id, event)), log));
      background.push(startHoldTimerWorker(queues, expire, log, clock));
      background.push(refunds.startWorker());
      const tick = () => {
        sweeping ??= sweep()
          .catch((err: unknown) => log.warn({ err }, 'purchase sweep failed'))
          .finally(() => (sweeping = null));
      };
      tick();
      timer = setInterval(tick, config.purchases.sweepIntervalMs);
      timer.unref();
    },
    async close() {
      clearInterval(timer);
      await sweeping;
      await Promise.all(background.map((b) => b.close()));
      await Promise.all([paymentEvents.close(), timers.close(), refunds.close()]);
    },
  };
}

export type Purchases = ReturnType<typeof createPurchases>;
