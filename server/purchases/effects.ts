// The effects a purchase transition asks for, as pairs of a step and its undo: place / release a
// hold, start / cancel a payment, issue tickets / refund. Each is idempotent (keyed by purchase and
// step) and reports back with the event that moves the purchase on.
import type { Effect, PurchaseEvent, PurchaseItem } from '../../machines/index.ts';
import type { Inventory } from '../inventory/index.ts';
import type { Logger } from '../observability/index.ts';
import type { Sql } from '../store/index.ts';
import type { EffectRunner } from './host.ts';
import { issueTickets } from './issue-tickets.ts';
import type { PaymentPort } from './payments-port.ts';

export interface EffectDeps {
  sql: Sql;
  inventory: Inventory;
  payments: PaymentPort;
  log: Logger;
  holdTtlMs: number;
  /** How long Redis keeps a hold past its deadline if every release were lost. */
  holdGraceMs: number;
  now?: () => number;
  /** Called once a hold is placed: schedules its durable expiry. */
  onHoldPlaced?: (purchaseId: string, deadline: Date) => Promise<void>;
  /** Rebuilds an event's counts when Redis has none (first sale, or after a flush). */
  rebuildCounts?: (eventId: string) => Promise<void>;
}

async function itemsOf(sql: Sql, purchaseId: string): Promise<PurchaseItem[]> {
  const [row] = await sql<{ items: PurchaseItem[] }[]>`select snapshot->'context'->'items' as items from purchases where id = ${purchaseId}`;
  return row?.items ?? [];
}

export function createEffectRunner(deps: EffectDeps): EffectRunner {
  const now = deps.now ?? Date.now;
  return async (purchaseId: string, step: string, effect: Effect): Promise<PurchaseEvent | null> => {
    switch (effect.type) {
      case 'placeHold': {
        const place = () =>
          deps.inventory.hold({
            purchaseId,
            eventId: effect.params.eventId,
            items: effect.params.items,
            deadline: new Date(now() + deps.holdTtlMs),
            graceMs: deps.holdGraceMs,
          });
        let result = await place();
        if (!result.ok && result.reason === 'not_on_sale' && deps.rebuildCounts) {
          await deps.rebuildCounts(effect.params.eventId);
          result = await place();
        }
        if (!result.ok) return { type: 'hold.rejected', reason: result.reason };
        await deps.onHoldPlaced?.(purchaseId, result.deadline);
        return { type: 'hold.placed', token: result.token, deadline: result.deadline.getTime() };
      }
      case 'releaseHold': {
        const items = await itemsOf(deps.sql, purchaseId);
        const outcome = await deps.inventory.release({ purchaseId, eventId: effect.params.eventId, items, token: effect.params.holdToken });
        if (outcome === 'stale_token') deps.log.warn({ purchaseId }, 'release refused: the hold record belongs to another hold');
        return null;
      }
      case 'startPayment': {
        const { paymentId } = await deps.payments.start({ ...effect.params, idempotencyKey: step });
        return { type: 'payment.started', paymentId };
      }
      case 'cancelPayment': {
        // Too late to stop: the money arrived. The machine decides what that means now.
        const result = await deps.payments.cancel({ ...effect.params, idempotencyKey: step });
        return result === 'succeeded' ? { type: 'payment.succeeded', paymentId: effect.params.paymentId } : null;
      }
      case 'issueTickets':
        return issueTickets(deps.sql, deps.inventory, effect.params);
      case 'refund':
        await deps.payments.refund({ ...effect.params, idempotencyKey: step });
        return { type: 'refund.succeeded' };
      case 'notify':
        deps.log.info({ purchaseId, kind: effect.params.kind }, 'purchase notification');
        return null;
    }
  };
}
