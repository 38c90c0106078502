// Ticket types and the rules that protect sales: capacity never below what is sold or held, a
// type with sales is closed rather than deleted, one currency per event, and a price change only
// affects purchases made after it (purchases keep the price they were made at).
import { AppError } from '../errors.ts';
import type { Sql, TransactionSql } from '../store/index.ts';
import { applyPatch } from './patch.ts';
import { ownedEvent, type Actor } from './events.ts';
import type { TicketType, TicketTypeInput, TicketTypeUpdate } from './schemas.ts';

/** How many units of a ticket type are held right now (inventory's answer; 0 without holds). */
export type HeldCount = (ticketTypeId: string) => Promise<number>;

type Db = Sql | TransactionSql;

export const ticketTypeColumns = (db: Db) => db`
  t.id, t.event_id as "eventId", t.name, t.description, t.kind, t.price_minor as "priceMinor", t.currency,
  t.capacity, t.sold, t.per_order_max as "perOrderMax", t.sales_start_at as "salesStartAt",
  t.sales_end_at as "salesEndAt", t.status, t.sort_order as "sortOrder"`;

async function lockedType(tx: TransactionSql, eventId: string, ticketTypeId: string): Promise<TicketType> {
  const [row] = await tx<TicketType[]>`
    select ${ticketTypeColumns(tx)} from ticket_types t where t.id = ${ticketTypeId} and t.event_id = ${eventId} for update`;
  if (!row) throw new AppError('not_found', 'ticket type not found');
  return row;
}

function assertWithinEvent(salesStartAt: Date | null | undefined, salesEndAt: Date | null | undefined, event: { salesEndAt: Date }): void {
  if (salesEndAt && salesEndAt > event.salesEndAt) {
    throw new AppError('validation_failed', 'the request is invalid', {
      issues: [{ path: 'body.salesEndAt', message: "must not be after the event's sales end" }],
    });
  }
  if (salesStartAt && salesStartAt >= event.salesEndAt) {
    throw new AppError('validation_failed', 'the request is invalid', {
      issues: [{ path: 'body.salesStartAt', message: "must be before the event's sales end" }],
    });
  }
}

export function createTicketTypes(sql: Sql, heldCount: HeldCount) {
  return {
    async create(actor: Actor, eventId: string, input: TicketTypeInput): Promise<TicketType> {
      return sql.begin(async (tx) => {
        const event = await ownedEvent(tx, eventId, actor, true);
        if (event.status === 'cancelled' || event.status === 'ended') throw new AppError('conflict', `the event is ${event.status}`);
        assertWithinEvent(input.salesStartAt, input.salesEndAt, event);
        const [other] = await tx<{ currency: string }[]>`select currency from ticket_types where event_id = ${eventId} limit 1`;
        if (other && other.currency !== input.currency) {
          throw new AppError('validation_failed', 'the request is invalid', {
            issues: [{ path: 'body.currency', message: `this event sells in ${other.currency}` }],
          });
        }
        const [dupe] = await tx`select 1 from ticket_types where event_id = ${eventId} and name = ${input.name}`;
        if (dupe) throw new AppError('conflict', 'a ticket type with that name exists', { field: 'name' });
        const [row] = await tx<{ id: string }[]>`
          insert into ticket_types (event_id, name, description, kind, price_minor, currency, capacity, per_order_max,
                                    sales_start_at, sales_end_at, sort_order)
          values (${eventId}, ${input.name}, ${input.description}, ${input.kind}, ${input.priceMinor}, ${input.currency},
                  ${input.capacity ?? 0}, ${input.perOrderMax}, ${input.salesStartAt ?? null}, ${input.salesEndAt ?? null},
                  ${input.sortOrder})
          returning id`;
        return lockedType(tx, eventId, row!.id);
      });
    },

    async update(actor: Actor, eventId: string, ticketTypeId: string, input: TicketTypeUpdate): Promise<TicketType> {
      return sql.begin(async (tx) => {
        const event = await ownedEvent(tx, eventId, actor, true);
        const current = await lockedType(tx, eventId, ticketTypeId);
        if (event.status === 'cancelled' || event.status === 'ended') throw new AppError('conflict', `the event is ${event.status}`);
        if (input.capacity !== undefined) {
          if (current.kind === 'seated') {
            throw new AppError('validation_failed', 'the request is invalid', {
              issues: [{ path: 'body.capacity', message: 'a seated type takes its capacity from the seat map' }],
            });
          }
          const taken = current.sold + (await heldCount(ticketTypeId));
          if (input.capacity < taken) {
            throw new AppError('conflict', `capacity cannot go below the ${taken} already sold or held`, { soldOrHeld: taken });
          }
        }
        const next = applyPatch(current, input);
        if (next.salesStartAt && next.salesEndAt && next.salesEndAt <= next.salesStartAt) {
          throw new AppError('validation_failed', 'the request is invalid', {
            issues: [{ path: 'body.salesEndAt', message: 'must be after salesStartAt' }],
          });
        }
        assertWithinEvent(next.salesStartAt, next.salesEndAt, event);
        if (input.name && input.name !== current.name) {
          const [dupe] = await tx`select 1 from ticket_types where event_id = ${eventId} and name = ${input.name} and id <> ${ticketTypeId}`;
          if (dupe) throw new AppError('conflict', 'a ticket type with that name exists', { field: 'name' });
        }
        await tx`
          update ticket_types set name = ${next.name}, description = ${next.description}, price_minor = ${next.priceMinor},
            capacity = ${next.capacity}, per_order_max = ${next.perOrderMax}, sales_start_at = ${next.salesStartAt},
            sales_end_at = ${next.salesEndAt}, sort_order = ${next.sortOrder}, updated_at = now()
          where id = ${ticketTypeId}`;
        return lockedType(tx, eventId, ticketTypeId);
      });
    },

    async setStatus(actor: Actor, eventId: string, ticketTypeId: string, status: 'on_sale' | 'closed'): Promise<TicketType> {
      return sql.begin(async (tx) => {
        const event = await ownedEvent(tx, eventId, actor, true);
        await lockedType(tx, eventId, ticketTypeId);
        if (status === 'on_sale' && event.status === 'cancelled') throw new AppError('conflict', 'the event is cancelled');
        await tx`update ticket_types set status = ${status}, updated_at = now() where id = ${ticketTypeId}`;
        return lockedType(tx, eventId, ticketTypeId);
      });
    },

    /** Only a type nothing was sold or held of can be deleted (its seats go with it); otherwise close it. */
    async remove(actor: Actor, eventId: string, ticketTypeId: string): Promise<void> {
      await sql.begin(async (tx) => {
        await ownedEvent(tx, eventId, actor, true);
        const current = await lockedType(tx, eventId, ticketTypeId);
        const held = await heldCount(ticketTypeId);
        if (current.sold > 0 || held > 0) {
          throw new AppError('conflict', 'this ticket type has sales; close it instead', { sold: current.sold, held });
        }
        await tx`delete from promo_code_ticket_types where ticket_type_id = ${ticketTypeId}`;
        await tx`delete from seats where ticket_type_id = ${ticketTypeId}`;
        await tx`delete from ticket_types where id = ${ticketTypeId}`;
      });
    },

    async list(eventId: string): Promise<TicketType[]> {
      return sql<TicketType[]>`
        select ${ticketTypeColumns(sql)} from ticket_types t where t.event_id = ${eventId} order by t.sort_order, t.name`;
    },
  };
}

export type TicketTypes = ReturnType<typeof createTicketTypes>;
