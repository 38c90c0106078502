// The effects a purchase transition asks for, as pairs of a step and its undo: place / release a
// hold, start / cancel a payment, issue tickets / refund. Each is idempotent (keyed by purchase and
// step) and reports back with the event that moves the purchase on.
import type { Effect, PurchaseEvent, PurchaseItem } from '../../machines/index.ts';
import type { Inventory } from '../inventory/index.ts';
import type { Logger } from '../observability/index.ts';
import type { Sql } from '../store/index.ts';
import type { EffectRunner } from './host.ts';
import { issueTickets, type TicketCoder } from './issue-tickets.ts';
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
  /** Makes ticket codes (signed for scanners); random codes when absent (tests of the host alone). */
  ticketCodes?: TicketCoder;
  /** An event's availability changed (counts, and these seats): live watchers are told. */
  onAvailabilityChanged?: (eventId: string, seats: [string, 'free' | 'held' | 'sold'][]) => void;
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

  async function placeHold(purchaseId: string, eventId: string, items: PurchaseItem[], ttlMs: number, replacing?: string) {
    const deadline = new Date(now() + ttlMs);
    const place = () => deps.inventory.hold({ purchaseId, eventId, items, deadline, graceMs: deps.holdGraceMs, ...(replacing ? { replacing } : {}) });
    const result = await place();
    if (result.ok || result.reason !== 'not_on_sale' || !deps.rebuildCounts) return result;
    await deps.rebuildCounts(eventId);
    return place();
  }

  const seatsOf = (items: readonly PurchaseItem[], state: 'free' | 'held' | 'sold'): [string, typeof state][] =>
    items.flatMap((i) => (i.seatIds ?? []).map((seat): [string, typeof state] => [seat, state]));
  const changed = (eventId: string, seats: [string, 'free' | 'held' | 'sold'][] = []) => deps.onAvailabilityChanged?.(eventId, seats);

  return async (purchaseId: string, step: string, effect: Effect): Promise<PurchaseEvent | null> => {
    // A release needs the purchase's items twice (the script's keys, the seats for watchers): read once.
    const releasing = effect.type === 'releaseHold' ? await itemsOf(deps.sql, purchaseId) : [];
    const event = await run(purchaseId, step, effect, releasing);
    // What moved in the inventory, for live watchers (after the effect, whatever it answered).
    if (effect.type === 'placeHold' && event?.type === 'hold.placed') changed(effect.params.eventId, seatsOf(effect.params.items, 'held'));
    if (effect.type === 'releaseHold') changed(effect.params.eventId, seatsOf(releasing, 'free'));
    if (effect.type === 'issueTickets' && event?.type === 'tickets.issued') changed(effect.params.eventId, seatsOf(effect.params.items, 'sold'));
    if (effect.type === 'revokeTickets') changed(effect.params.eventId, await voidedSeats(purchaseId, effect.params.requestId));
    return event;
  };

  async function voidedSeats(purchaseId: string, requestId: string): Promise<[string, 'free'][]> {
    const rows = await deps.sql<{ seat_id: string }[]>`
      select seat_id::text from tickets where purchase_id = ${purchaseId} and voided_by_step = ${requestId} and seat_id is not null`;
    return rows.map((r) => [r.seat_id, 'free']);
  }

  async function run(purchaseId: string, step: string, effect: Effect, releasing: PurchaseItem[]): Promise<PurchaseEvent | null> {
    switch (effect.type) {
      case 'placeHold': {
        const result = await placeHold(purchaseId, effect.params.eventId, effect.params.items, deps.holdTtlMs);
        if (!result.ok) return { type: 'hold.rejected', reason: result.reason };
        await deps.onHoldPlaced?.(purchaseId, result.deadline);
        return { type: 'hold.placed', token: result.token, deadline: result.deadline.getTime() };
      }
      case 'releaseHold': {
        const items = releasing;
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
        const { eventId, holdToken, items } = effect.params;
        const status = holdToken === '' ? null : await deps.inventory.holdStatus(eventId, purchaseId, holdToken);
        if (status === 'live') return issueTickets(deps.sql, deps.inventory, effect.params, deps.ticketCodes, status);
        // A hold Redis lost (a flush, or writes a crash lost) that no rebuild put back: Redis no
        // longer sets its units aside, so issuing on it alone would leave the count high for good.
        // (A record with another token is this effect's own claim, from a run that did not finish:
        // nothing else writes this purchase's record while it is confirming on this hold.)
        const lost = status !== null;
        // No hold to convert (released before the money came, or lost): claim the units again,
        // briefly, or refund. A retry after the tickets were issued must not claim anything (their
        // seats read as sold); one whose hold was lost still converts what is left of it.
        const [issued] = await deps.sql<{ n: number }[]>`select count(*)::int as n from tickets where purchase_id = ${purchaseId}`;
        if (issued && issued.n > 0) return lost ? issueTickets(deps.sql, deps.inventory, effect.params, deps.ticketCodes) : { type: 'tickets.issued' };
        // The released hold's record may still be there (its release on the way): replace it, so
        // that release cannot hand back the units these tickets take. A lost hold has no release
        // on the way: a record found now (a rebuild put it back, or an earlier run claimed it) is adopted.
        const again = await placeHold(purchaseId, eventId, items, RECLAIM_MS, lost ? undefined : effect.params.releasedToken);
        if (lost) deps.log.warn({ purchaseId, claimed: again.ok }, 'paid purchase whose hold Redis lost: claiming its units again');
        if (!again.ok) return { type: 'tickets.failed', reason: lost ? 'hold_lost' : `${again.reason}_after_release` };
        const outcome = await issueTickets(deps.sql, deps.inventory, { ...effect.params, holdToken: again.token }, deps.ticketCodes);
        if (outcome.type === 'tickets.failed') await deps.inventory.release({ purchaseId, eventId, items, token: again.token });
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
  }
}
