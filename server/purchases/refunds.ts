// Refunds asked for by an event's organizer (or an admin): all of a purchase, or some of its
// tickets. The purchase actor records it, voids the tickets (the scanner refuses them), puts their
// units back on sale and refunds the money through the provider. Cancelling an event refunds all
// of its purchases through a queued job; the sweep re-queues it for any cancelled event whose
// purchases still stand.
import { Queue } from 'bullmq';
import { z } from 'zod';
import { ownedEvent, type Actor } from '../catalog/events.ts';
import { AppError } from '../errors.ts';
import { requireUser } from '../http/policy.ts';
import type { App } from '../http/types.ts';
import { recordAudit } from '../identity/index.ts';
import { producerOptions, startWorker, type QueueSettings, type RunningWorker } from '../jobs/index.ts';
import type { Logger } from '../observability/index.ts';
import type { Redis, Sql } from '../store/index.ts';
import type { PriceBreakdown } from './checkout.ts';
import type { PurchaseHost } from './host.ts';

export const EVENT_REFUNDS_QUEUE = 'event-refunds';

export interface RefundsDeps {
  sql: Sql;
  host: PurchaseHost;
  queues: QueueSettings;
  redis: Redis;
  log: Logger;
}

interface RefundablePurchase {
  id: string;
  state: string;
  amount_minor: number;
  pricing: PriceBreakdown;
  refunded_minor: number;
}

/**
 * What `ticketIds` of a purchase are worth: each ticket's list price, less its share of any
 * discount (the total paid spread over the subtotal), rounded down.
 */
export function ticketsWorth(purchase: Pick<RefundablePurchase, 'amount_minor' | 'pricing'>, ticketTypeIds: readonly string[]): number {
  const unit = new Map(purchase.pricing.lines.map((l) => [l.ticketTypeId, l.unitPriceMinor]));
  const listed = ticketTypeIds.reduce((sum, id) => sum + (unit.get(id) ?? 0), 0);
  const subtotal = purchase.pricing.subtotalMinor || purchase.amount_minor;
  return subtotal === 0 ? 0 : Math.floor((purchase.amount_minor * listed) / subtotal);
}

export function createRefunds({ sql, host, queues, redis, log }: RefundsDeps) {
  const queue = new Queue<{ eventId: string }>(EVENT_REFUNDS_QUEUE, producerOptions(queues, redis, EVENT_REFUNDS_QUEUE));

  async function request(actor: Actor, eventId: string, purchaseId: string, input: { ticketIds?: string[] | undefined; reason: string }) {
    await ownedEvent(sql, eventId, actor);
    const [purchase] = await sql<RefundablePurchase[]>`
      select p.id, p.state, p.amount_minor, p.pricing, (p.snapshot->'context'->>'refundedMinor')::int as refunded_minor
      from purchases p where p.id = ${purchaseId} and p.event_id = ${eventId}`;
    if (!purchase) throw new AppError('not_found', 'purchase not found');
    if (purchase.state !== 'confirmed') throw new AppError('conflict', `a ${purchase.state} purchase cannot be refunded`, { state: purchase.state });
    const valid = await sql<{ id: string; ticket_type_id: string }[]>`
      select id, ticket_type_id from tickets where purchase_id = ${purchaseId} and status = 'valid'`;
    let ticketIds: string[] | null = null;
    let amountMinor = purchase.amount_minor - (purchase.refunded_minor ?? 0);
    if (input.ticketIds) {
      const byId = new Map(valid.map((t) => [t.id, t]));
      const unknown = input.ticketIds.filter((id) => !byId.has(id));
      if (unknown.length) {
        throw new AppError('validation_failed', 'the request is invalid', {
          issues: [{ path: 'body.ticketIds', message: `not valid tickets of this purchase: ${unknown.join(', ')}` }],
        });
      }
      // Refunding every remaining ticket is a full refund.
      if (input.ticketIds.length < valid.length) {
        ticketIds = input.ticketIds;
        amountMinor = ticketsWorth(purchase, input.ticketIds.map((id) => byId.get(id)!.ticket_type_id));
      }
    }
    const requestId = `refund:${Date.now().toString(36)}:${purchaseId.slice(0, 8)}:${(ticketIds ?? ['all']).join(',').slice(0, 60)}`;
    await recordAudit(sql, {
      action: 'purchases.refund.requested',
      actor: { kind: 'user', id: actor.userId },
      subject: { type: 'purchase', id: purchaseId },
      reason: input.reason,
      data: { ticketIds, amountMinor },
      requestId: actor.requestId ?? null,
    });
    return host.deliver(purchaseId, { type: 'refund.requested', ticketIds, amountMinor, requestId });
  }

  /** Refunds (or, not yet paid, cancels) every purchase of a cancelled event. Safe to run again. */
  async function refundEvent(eventId: string): Promise<number> {
    const purchases = await sql<{ id: string; state: string }[]>`
      select id, state from purchases where event_id = ${eventId} and state in ('held', 'paying', 'confirmed')`;
    for (const p of purchases) {
      const event =
        p.state === 'confirmed'
          ? ({ type: 'refund.requested', ticketIds: null, amountMinor: 0, requestId: `event-cancelled:${eventId}` } as const)
          : ({ type: 'purchase.cancel' } as const);
      await host.deliver(p.id, event);
    }
    return purchases.length;
  }

  return {
    request,
    refundEvent,
    /** Queues the refunds of a cancelled event (one job per event while it waits). */
    async enqueueEvent(eventId: string): Promise<void> {
      await queue.add(
        'refund-event',
        { eventId },
        { jobId: `event-${eventId}`, attempts: 10, backoff: { type: 'exponential', delay: 1_000 }, removeOnComplete: true, removeOnFail: { age: 7 * 24 * 3600 } },
      );
    },
    /** Cancelled events whose purchases still stand (for the sweep's safety net). */
    async pendingCancelledEvents(): Promise<string[]> {
      const rows = await sql<{ id: string }[]>`
        select distinct e.id from events e join purchases p on p.event_id = e.id
        where e.status = 'cancelled' and p.state in ('held', 'paying', 'confirmed') limit 100`;
      return rows.map((r) => r.id);
    },
    startWorker(): RunningWorker {
      return startWorker<{ eventId: string }>(queues, EVENT_REFUNDS_QUEUE, (job) => refundEvent(job.data.eventId), {
        concurrency: 2,
        log,
        label: 'event refunds',
      });
    },
    close: () => queue.close(),
    routes: (api: App) => {
      api.post(
        '/organizer/events/:eventId/purchases/:purchaseId/refunds',
        {
          config: { policy: 'organizer' },
          schema: {
            tags: ['purchases'],
            summary: 'Refund a confirmed purchase: every ticket, or the tickets named (they are voided and go back on sale)',
            params: z.object({ eventId: z.guid(), purchaseId: z.guid() }),
            body: z
              .object({
                ticketIds: z.array(z.guid()).min(1).max(100).refine((ids) => new Set(ids).size === ids.length, 'a ticket is named twice').optional(),
                reason: z.string().trim().min(1).max(200),
              })
              .strict(),
            response: { 200: z.object({ id: z.string(), state: z.string(), version: z.number() }) },
          },
        },
        async (req) => {
          const user = requireUser(req);
          const actor: Actor = { userId: user.userId, role: user.role, requestId: req.id };
          const view = await request(actor, req.params.eventId, req.params.purchaseId, req.body);
          return { id: view.id, state: view.state, version: view.version };
        },
      );
    },
  };

}

export type Refunds = ReturnType<typeof createRefunds>;
