// The effects a purchase transition asks for, as pairs of a step and its undo: place / release a
// hold, start / cancel a payment, issue tickets / refund. Each is idempotent (keyed by purchase and
// step) and reports back with the event that moves the purchase on.
import type { Effect, PurchaseEvent, PurchaseItem } from '../../machines/index.ts';
import type { Inventory } from '../inventory/index.ts';
import type { Logger } from '../observability/index.ts';
import type { Sql } from '../store/index.ts';
import type { EffectRunner } from './host.ts';
import { issueTickets } from './issue-tickets.ts';
import { revokeTickets } from './revoke-tickets.ts';
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

/** How long a hold claimed again for a late payment lives: just long enough to issue. */
const RECLAIM_MS = 60_000;

export function createEffectRunner(deps: EffectDeps): EffectRunner {
  const now = deps.now ?? Date.now;

  async function placeHold(purchaseId: string, eventId: string, items: PurchaseItem[], ttlMs: number) {
    const place = () => deps.inventory.hold({ purchaseId, eventId, items, deadline: new Date(now() + ttlMs), graceMs: deps.holdGraceMs });
    const result = await place();
    if (result.ok || result.reason !== 'not_on_sale' || !deps.rebuildCounts) return result;
    await deps.rebuildCounts(eventId);
    return place();
  }

  return async (purchaseId: string, step: string, effect: Effect): Promise<PurchaseEvent | null> => {
    switch (effect.type) {
      case 'placeHold': {
        const result = await placeHold(purchaseId, effect.params.eventId, effect.params.items, deps.holdTtlMs);
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
      case 'issueTickets': {
        if (effect.params.holdToken !== '') return issueTickets(deps.sql, deps.inventory, effect.params);
        // The money came after the hold was released: claim the units again, briefly, or refund.
        const again = await placeHold(purchaseId, effect.params.eventId, effect.params.items, RECLAIM_MS);
        if (!again.ok) return { type: 'tickets.failed', reason: `${again.reason}_after_release` };
        const outcome = await issueTickets(deps.sql, deps.inventory, { ...effect.params, holdToken: again.token });
        if (outcome.type === 'tickets.failed') {
          await deps.inventory.release({ purchaseId, eventId: effect.params.eventId, items: effect.params.items, token: again.token });
        }
        return outcome;
      }
      case 'refund': {
        const { partial, ...refund } = effect.params;
        await deps.payments.refund({ ...refund, idempotencyKey: step });
        return partial ? null : { type: 'refund.succeeded' };
      }
      case 'revokeTickets':
        await revokeTickets(deps.sql, deps.inventory, effect.params);
        return null;
      case 'notify':
        deps.log.info({ purchaseId, kind: effect.params.kind }, 'purchase notification');
        return null;
    }
  };
}
