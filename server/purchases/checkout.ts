// What a buyer may ask for, checked against the catalog before any hold is placed: the event and
// its ticket types are on sale now, quantities within the per-order and per-customer limits, seats
// of this event and type, no repeats. Prices come from the catalog at this moment and stay with the
// purchase (a later price change does not touch it).
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { PurchaseItem } from '../../machines/index.ts';
import { AppError } from '../errors.ts';
import type { Sql } from '../store/index.ts';

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
  amountMinor: number;
  currency: string;
}

const invalid = (path: string, message: string) => new AppError('validation_failed', 'the request is invalid', { issues: [{ path, message }] });

/** A stable digest of the request body, for Idempotency-Key reuse checks. */
export function requestHash(body: PurchaseRequest): string {
  const canonical = { eventId: body.eventId, items: body.items.map((i) => ({ t: i.ticketTypeId, q: i.quantity ?? null, s: i.seatIds ?? null })) };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

export async function priceOrder(sql: Sql, customerId: string, body: PurchaseRequest, maxPerCustomer: number): Promise<PricedOrder> {
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

  const wanted = lines.reduce((sum, l) => sum + l.quantity, 0);
  const [mine] = await sql<{ n: number }[]>`
    select coalesce(sum((item->>'quantity')::int), 0)::int as n
    from purchases p, jsonb_array_elements(p.snapshot->'context'->'items') item
    where p.customer_id = ${customerId} and p.event_id = ${body.eventId}
      and p.state in ('reserving', 'held', 'paying', 'confirming', 'confirmed')`;
  if ((mine?.n ?? 0) + wanted > maxPerCustomer) {
    throw new AppError('conflict', `at most ${maxPerCustomer} tickets per customer for this event`, { reason: 'customer_limit', alreadyHeldOrBought: mine?.n ?? 0 });
  }

  const currency = types[0]!.currency;
  return {
    items: lines.map((l) => ({ ticketTypeId: l.ticketTypeId, quantity: l.quantity, ...(l.seatIds ? { seatIds: l.seatIds } : {}) })),
    lines,
    amountMinor: lines.reduce((sum, l) => sum + l.lineTotalMinor, 0),
    currency,
  };
}
