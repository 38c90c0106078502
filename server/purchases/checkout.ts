// What a buyer may ask for, checked against the catalog before any hold is placed: the event and
// its ticket types are on sale now, quantities within the per-order and per-customer limits, seats
// of this event and type, no repeats. Prices come from the catalog at this moment and stay with the
// purchase (a later price change does not touch it). A promo code must belong to the event, be in
// its window and apply to something ordered. The limits that races could break (tickets per
// customer, promo-code uses) are checked again by `checkoutGuard` inside the creating transaction.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { PurchaseItem } from '../../machines/index.ts';
import { AppError } from '../errors.ts';
import type { Sql, TransactionSql } from '../store/index.ts';
import type { StartGuard } from './host.ts';

const seatIdSchema = z.string().regex(/^\d{1,18}$/, 'not a seat id');

export const purchaseRequestSchema = z
  .object({
    eventId: z.guid(),
    items: z
      .array(
        z
          .object({
            ticketTypeId: z.guid(),
            quantity: z.number().int().min(1).max(100).optional(),
            seatIds: z.array(seatIdSchema).min(1).max(100).optional(),
          })
          .strict(),
      )
      .min(1)
      .max(20),
    promoCode: z
      .string()
      .regex(/^[A-Za-z0-9_-]{3,32}$/, 'not a promo code')
      .optional(),
  })
  .strict();
export type PurchaseRequest = z.infer<typeof purchaseRequestSchema>;

export interface PricedLine {
  ticketTypeId: string;
  name: string;
  quantity: number;
  seatIds?: string[];
  unitPriceMinor: number;
  lineTotalMinor: number;
}

export interface PricedOrder {
  items: PurchaseItem[];
  lines: PricedLine[];
  subtotalMinor: number;
  discountMinor: number;
  amountMinor: number;
  currency: string;
  promo: { id: string; code: string; perCustomerLimit: number | null } | null;
}

/** What the buyer is shown and the purchase keeps: each line, the discount, the total. */
export function breakdown(order: PricedOrder) {
  return {
    lines: order.lines,
    subtotalMinor: order.subtotalMinor,
    discountMinor: order.discountMinor,
    promoCode: order.promo?.code ?? null,
    totalMinor: order.amountMinor,
    currency: order.currency,
  };
}
export type PriceBreakdown = ReturnType<typeof breakdown>;

interface PromoRow {
  id: string;
  code: string;
  discount_kind: 'percent' | 'fixed';
  percent_off: number | null;
  amount_off_minor: number | null;
  max_uses: number | null;
  uses: number;
  per_customer_limit: number | null;
  valid_from: Date | null;
  valid_until: Date | null;
  scope: string[];
}

const invalid = (path: string, message: string) => new AppError('validation_failed', 'the request is invalid', { issues: [{ path, message }] });

/** A stable digest of the request body, for Idempotency-Key reuse checks. */
export function requestHash(body: PurchaseRequest): string {
  const canonical = {
    eventId: body.eventId,
    items: body.items.map((i) => ({ t: i.ticketTypeId, q: i.quantity ?? null, s: i.seatIds ?? null })),
    promo: body.promoCode?.toUpperCase() ?? null,
  };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

export async function priceOrder(sql: Sql, body: PurchaseRequest): Promise<PricedOrder> {
  const [event] = await sql<{ status: string; sales_start_at: Date; sales_end_at: Date }[]>`
    select status, sales_start_at, sales_end_at from events where id = ${body.eventId}`;
  if (!event || event.status === 'draft') throw new AppError('not_found', 'event not found');
  const now = new Date();
  if (event.status !== 'published' || now < event.sales_start_at || now >= event.sales_end_at) {
    throw new AppError('conflict', 'this event is not on sale now', { reason: 'not_on_sale' });
  }
  const ids = body.items.map((i) => i.ticketTypeId);
  if (new Set(ids).size !== ids.length) throw invalid('body.items', 'name each ticket type once');
  const types = await sql<{ id: string; name: string; kind: string; price_minor: number; currency: string; status: string; per_order_max: number; sales_start_at: Date | null; sales_end_at: Date | null }[]>`
    select id, name, kind, price_minor, currency, status, per_order_max, sales_start_at, sales_end_at
    from ticket_types where event_id = ${body.eventId} and id in ${sql(ids)}`;
  const byId = new Map(types.map((t) => [t.id, t]));

  const lines: PricedLine[] = [];
  for (const [index, item] of body.items.entries()) {
    const path = `body.items.${index}`;
    const type = byId.get(item.ticketTypeId);
    if (!type) throw invalid(`${path}.ticketTypeId`, 'not a ticket type of this event');
    if (type.status !== 'on_sale' || (type.sales_start_at && now < type.sales_start_at) || (type.sales_end_at && now >= type.sales_end_at)) {
      throw new AppError('conflict', `"${type.name}" is not on sale now`, { reason: 'not_on_sale', ticketTypeId: type.id });
    }
    let quantity: number;
    let seatIds: string[] | undefined;
    if (type.kind === 'seated') {
      if (!item.seatIds) throw invalid(`${path}.seatIds`, 'a seated ticket type needs seatIds');
      if (new Set(item.seatIds).size !== item.seatIds.length) throw invalid(`${path}.seatIds`, 'a seat is named twice');
      if (item.quantity !== undefined && item.quantity !== item.seatIds.length) throw invalid(`${path}.quantity`, 'must equal the number of seats');
      const seats = await sql<{ id: string }[]>`
        select id::text from seats where id in ${sql(item.seatIds.map(Number))} and event_id = ${body.eventId}
          and ticket_type_id = ${type.id} and status = 'open'`;
      if (seats.length !== item.seatIds.length) throw invalid(`${path}.seatIds`, 'seats must be open seats of this event and ticket type');
      quantity = item.seatIds.length;
      seatIds = item.seatIds;
    } else {
      if (item.seatIds) throw invalid(`${path}.seatIds`, 'general admission has no seats');
      if (item.quantity === undefined) throw invalid(`${path}.quantity`, 'required');
      quantity = item.quantity;
    }
    if (quantity > type.per_order_max) throw invalid(`${path}.quantity`, `at most ${type.per_order_max} per order`);
    lines.push({
      ticketTypeId: type.id,
      name: type.name,
      quantity,
      ...(seatIds ? { seatIds } : {}),
      unitPriceMinor: type.price_minor,
      lineTotalMinor: type.price_minor * quantity,
    });
  }

  const subtotalMinor = lines.reduce((sum, l) => sum + l.lineTotalMinor, 0);
  const promo = body.promoCode ? await findPromo(sql, body.eventId, body.promoCode.toUpperCase(), now) : null;
  const discountMinor = promo ? discountOf(promo, lines) : 0;
  return {
    items: lines.map((l) => ({ ticketTypeId: l.ticketTypeId, quantity: l.quantity, ...(l.seatIds ? { seatIds: l.seatIds } : {}) })),
    lines,
    subtotalMinor,
    discountMinor,
    amountMinor: subtotalMinor - discountMinor,
    currency: types[0]!.currency,
    promo: promo ? { id: promo.id, code: promo.code, perCustomerLimit: promo.per_customer_limit } : null,
  };
}

async function findPromo(sql: Sql, eventId: string, code: string, now: Date): Promise<PromoRow> {
  const [promo] = await sql<PromoRow[]>`
    select p.id, p.code, p.discount_kind, p.percent_off, p.amount_off_minor, p.max_uses, p.uses, p.per_customer_limit,
           p.valid_from, p.valid_until,
           coalesce((select array_agg(s.ticket_type_id::text) from promo_code_ticket_types s where s.promo_code_id = p.id), '{}') as scope
    from promo_codes p where p.event_id = ${eventId} and p.code = ${code}`;
  // A code of another event is, for this one, no code at all.
  if (!promo) throw invalid('body.promoCode', 'not a promo code of this event');
  if ((promo.valid_from && now < promo.valid_from) || (promo.valid_until && now >= promo.valid_until)) {
    throw invalid('body.promoCode', 'this promo code is not valid now');
  }
  if (promo.max_uses !== null && promo.uses >= promo.max_uses) throw promoExhausted();
  return promo;
}

const promoExhausted = () => new AppError('conflict', 'this promo code has been used up', { reason: 'promo_exhausted' });

/** Percent: off each line in scope (rounded down); fixed: off each ticket in scope. */
function discountOf(promo: PromoRow, lines: readonly PricedLine[]): number {
  const inScope = lines.filter((l) => promo.scope.length === 0 || promo.scope.includes(l.ticketTypeId));
  if (!inScope.length) throw invalid('body.promoCode', 'this promo code applies to none of the tickets ordered');
  return inScope.reduce((sum, l) => {
    const off = promo.discount_kind === 'percent' ? Math.floor((l.lineTotalMinor * promo.percent_off!) / 100) : promo.amount_off_minor! * l.quantity;
    return sum + Math.min(off, l.lineTotalMinor);
  }, 0);
}

/** States in which a purchase holds, or has bought, its tickets. */
const LIVE_OR_KEPT = ['reserving', 'held', 'paying', 'confirming', 'confirmed'];

/**
 * The limits that concurrent requests could break, checked again inside the transaction that
 * creates the purchase: one customer's purchases for one event are admitted one at a time (an
 * advisory lock), and a promo-code use is taken with a guarded increment (its row lock orders
 * the racers; `uses < max_uses` lets exactly max_uses through).
 */
export function checkoutGuard(customerId: string, eventId: string, order: PricedOrder, maxPerCustomer: number): StartGuard {
  return async (tx: TransactionSql) => {
    await tx`select pg_advisory_xact_lock(hashtextextended(${`purchase:${customerId}:${eventId}`}, 0))`;
    const [mine] = await tx<{ n: number }[]>`
      select coalesce(sum((item->>'quantity')::int), 0)::int as n
      from purchases p, jsonb_array_elements(p.snapshot->'context'->'items') item
      where p.customer_id = ${customerId} and p.event_id = ${eventId} and p.state in ${tx(LIVE_OR_KEPT)}`;
    const wanted = order.items.reduce((sum, i) => sum + i.quantity, 0);
    if ((mine?.n ?? 0) + wanted > maxPerCustomer) {
      throw new AppError('conflict', `at most ${maxPerCustomer} tickets per customer for this event`, {
        reason: 'customer_limit',
        alreadyHeldOrBought: mine?.n ?? 0,
      });
    }
    if (!order.promo) return;
    if (order.promo.perCustomerLimit !== null) {
      const [used] = await tx<{ n: number }[]>`
        select count(*)::int as n from purchases
        where customer_id = ${customerId} and promo_code_id = ${order.promo.id} and state in ${tx(LIVE_OR_KEPT)}`;
      if ((used?.n ?? 0) >= order.promo.perCustomerLimit) {
        throw new AppError('conflict', 'you have used this promo code as often as it allows', { reason: 'promo_customer_limit' });
      }
    }
    const [taken] = await tx`
      update promo_codes set uses = uses + 1 where id = ${order.promo.id} and (max_uses is null or uses < max_uses) returning uses`;
    if (!taken) throw promoExhausted();
  };
}
