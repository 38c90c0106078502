// What a committed purchase transition means for the sale's counters. Read from the step (states
// left and entered) and the event that caused it, so every node counts what it committed itself.
import type { PurchaseEvent, PurchaseStep } from '../../machines/index.ts';
import type { Metrics } from '../observability/metrics.ts';

export interface TransitionNotice {
  purchaseId: string;
  step: PurchaseStep;
  /** The event that caused the transition; null for the purchase's creation. */
  event: PurchaseEvent | null;
  version: number;
  holdDeadline: Date | null;
}

/** Ticket issues refused by Postgres itself: the capacity guard, or the one-ticket-per-seat index. */
const STOPPED_BY_POSTGRES = new Set(['sold_out', 'seat_sold']);

/** Why a refund began: the event that sent the purchase to refunding (or refunded part of it). */
function refundKind(step: PurchaseStep, event: PurchaseEvent): string | null {
  if (event.type === 'refund.requested') return step.to === 'refunding' ? 'requested' : step.to === 'confirmed' ? 'partial' : null;
  if (step.to !== 'refunding' || step.from === 'refunding') return null;
  if (event.type === 'tickets.failed') return 'cannot_issue';
  if (event.type === 'payment.succeeded') return 'paid_after_cancel';
  return 'other';
}

export function countTransition(metrics: Metrics, { step, event }: TransitionNotice): void {
  metrics.transitions.inc({ from: step.from ?? 'none', to: step.to });
  if (!event) return;
  switch (event.type) {
    case 'hold.placed':
      if (step.to === 'held') metrics.holdsPlaced.inc();
      break;
    case 'hold.rejected':
      if (step.to === 'rejected') metrics.holdsRejected.inc({ reason: event.reason });
      break;
    case 'hold.expired':
      if (step.to === 'expired') metrics.holdsExpired.inc();
      break;
    case 'tickets.issued':
      if (step.to === 'confirmed' && step.from === 'confirming') metrics.purchasesConfirmed.inc();
      break;
    case 'tickets.failed':
      if (STOPPED_BY_POSTGRES.has(event.reason)) metrics.oversellStopped.inc();
      break;
    default:
      break;
  }
  const kind = refundKind(step, event);
  if (kind) metrics.refunds.inc({ kind });
}
