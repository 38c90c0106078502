// Promo codes of an event: a percentage (1-100) or a fixed amount no larger than the price of any
// ticket type it applies to, with total and per-customer limits, a validity window and an
// optional ticket-type scope. Redemption (and its max-uses race) belongs to purchases.
import { AppError } from '../errors.ts';
import type { Sql, TransactionSql } from '../store/index.ts';
import { ownedEvent, type Actor } from './events.ts';
import type { PromoCode, PromoCodeInput } from './schemas.ts';

const columns = (db: Sql | TransactionSql) => db`
  p.id, p.event_id as "eventId", p.code, p.discount_kind as "discountKind", p.percent_off as "percentOff",
  p.amount_off_minor as "amountOffMinor", p.max_uses as "maxUses", p.uses, p.per_customer_limit as "perCustomerLimit",
  p.valid_from as "validFrom", p.valid_until as "validUntil",
  coalesce((select array_agg(s.ticket_type_id::text order by s.ticket_type_id) from promo_code_ticket_types s
            where s.promo_code_id = p.id), '{}') as "ticketTypeIds"`;

const invalid = (path: string, message: string) => new AppError('validation_failed', 'the request is invalid', { issues: [{ path, message }] });

export function createPromoCodes(sql: Sql) {
  return {
    async create(actor: Actor, eventId: string, input: PromoCodeInput): Promise<PromoCode> {
      return sql.begin(async (tx) => {
        const event = await ownedEvent(tx, eventId, actor, true);
        if (event.status === 'cancelled' || event.status === 'ended') throw new AppError('conflict', `the event is ${event.status}`);
        const types = await tx<{ id: string; price_minor: number }[]>`select id, price_minor from ticket_types where event_id = ${eventId}`;
        const byId = new Map(types.map((t) => [t.id, t]));
        const foreign = input.ticketTypeIds.filter((id) => !byId.has(id));
        if (foreign.length) throw invalid('body.ticketTypeIds', `not ticket types of this event: ${foreign.join(', ')}`);
        if (input.amountOffMinor !== undefined) {
          const scope = input.ticketTypeIds.length ? input.ticketTypeIds.map((id) => byId.get(id)!) : types;
          const cheapest = Math.min(...scope.map((t) => t.price_minor));
          if (scope.length && input.amountOffMinor > cheapest) {
            throw invalid('body.amountOffMinor', `must not exceed the price it applies to (${cheapest})`);
          }
        }
        if (input.validUntil && input.validUntil > event.endsAt) throw invalid('body.validUntil', 'must not be after the event ends');
        const [dupe] = await tx`select 1 from promo_codes where event_id = ${eventId} and code = ${input.code}`;
        if (dupe) throw new AppError('conflict', 'this event already has that code', { field: 'code' });
        const [row] = await tx<{ id: string }[]>`
          insert into promo_codes (event_id, code, discount_kind, percent_off, amount_off_minor, max_uses, per_customer_limit,
                                   valid_from, valid_until)
          values (${eventId}, ${input.code}, ${input.percentOff !== undefined ? 'percent' : 'fixed'}, ${input.percentOff ?? null},
                  ${input.amountOffMinor ?? null}, ${input.maxUses ?? null}, ${input.perCustomerLimit ?? null},
                  ${input.validFrom ?? null}, ${input.validUntil ?? null})
          returning id`;
        for (const ticketTypeId of new Set(input.ticketTypeIds)) {
          await tx`insert into promo_code_ticket_types (promo_code_id, ticket_type_id) values (${row!.id}, ${ticketTypeId})`;
        }
        const [created] = await tx<PromoCode[]>`select ${columns(tx)} from promo_codes p where p.id = ${row!.id}`;
        return created!;
      });
    },

    list(eventId: string): Promise<PromoCode[]> {
      return sql<PromoCode[]>`select ${columns(sql)} from promo_codes p where p.event_id = ${eventId} order by p.code`;
    },

    /** A code that was never used can be deleted; a used one stays (purchases point at it). */
    async remove(actor: Actor, eventId: string, promoCodeId: string): Promise<void> {
      await sql.begin(async (tx) => {
        await ownedEvent(tx, eventId, actor, true);
        const [code] = await tx<{ uses: number }[]>`select uses from promo_codes where id = ${promoCodeId} and event_id = ${eventId} for update`;
        if (!code) throw new AppError('not_found', 'promo code not found');
        if (code.uses > 0) throw new AppError('conflict', 'this code has been used; it cannot be deleted');
        await tx`delete from promo_codes where id = ${promoCodeId}`;
      });
    },
  };
}

export type PromoCodes = ReturnType<typeof createPromoCodes>;
