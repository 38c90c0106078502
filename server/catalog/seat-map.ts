// Seat maps: imported whole from a documented JSON format (docs/seat-map-format.md) in one
// transaction and one bulk INSERT (up to 100,000 seats), and read back as one compact document.
import { AppError } from '../errors.ts';
import type { Sql } from '../store/index.ts';
import { ownedEvent, type Actor } from './events.ts';
import { MAX_SEATS_PER_EVENT, type SeatMapInput } from './schemas.ts';
import type { HeldCount } from './ticket-types.ts';

/** Which seats are held or sold right now (inventory and tickets answer; empty before any sale). */
export type SeatStates = (eventId: string) => Promise<{ held: ReadonlySet<string>; sold: ReadonlySet<string> }>;

export const SEAT_STATE_CODES = ['free', 'held', 'sold', 'blocked'] as const;

export interface SeatMapSummary {
  seats: number;
  sections: number;
  seatsByTicketType: Record<string, number>;
}

interface FlatSeats {
  section: string[];
  row: string[];
  number: string[];
  ticketType: string[];
  x: (number | null)[];
  y: (number | null)[];
}

const MAX_ISSUES = 20;

/** Flattens and checks the map: every seat has a ticket type, no label repeats, not too many seats. */
function flatten(map: SeatMapInput): FlatSeats {
  const flat: FlatSeats = { section: [], row: [], number: [], ticketType: [], x: [], y: [] };
  const seen = new Set<string>();
  const issues: { path: string; message: string }[] = [];
  const problem = (path: string, message: string) => {
    if (issues.length < MAX_ISSUES) issues.push({ path, message });
  };
  map.sections.forEach((section, si) => {
    section.rows.forEach((row, ri) => {
      row.seats.forEach((seat, ki) => {
        const path = `body.sections.${si}.rows.${ri}.seats.${ki}`;
        const s = typeof seat === 'string' ? { number: seat } : seat;
        const ticketType = (typeof seat === 'string' ? undefined : seat.ticketTypeId) ?? row.ticketTypeId;
        if (!ticketType) return problem(path, 'no ticketTypeId on the seat or its row');
        const key = `${section.name}\u0000${row.label}\u0000${s.number}`;
        if (seen.has(key)) return problem(path, `seat ${section.name} ${row.label}-${s.number} appears twice`);
        seen.add(key);
        flat.section.push(section.name);
        flat.row.push(row.label);
        flat.number.push(s.number);
        flat.ticketType.push(ticketType);
        flat.x.push('x' in s && s.x !== undefined ? s.x : null);
        flat.y.push('y' in s && s.y !== undefined ? s.y : null);
      });
    });
  });
  if (seen.size > MAX_SEATS_PER_EVENT) {
    throw new AppError('validation_failed', `a seat map holds at most ${MAX_SEATS_PER_EVENT} seats`, {
      issues: [{ path: 'body.sections', message: `${seen.size} seats; the limit is ${MAX_SEATS_PER_EVENT}` }],
    });
  }
  if (issues.length) throw new AppError('validation_failed', 'the seat map is invalid', { issues });
  return flat;
}

export function createSeatMaps(sql: Sql, heldCount: HeldCount, seatStates: SeatStates) {
  return {
    /** Replaces the event's seat map; refused once any seat of the event is sold or held. */
    async import(actor: Actor, eventId: string, map: SeatMapInput): Promise<SeatMapSummary> {
      const flat = flatten(map);
      return sql.begin(async (tx) => {
        const event = await ownedEvent(tx, eventId, actor, true);
        if (event.status === 'cancelled' || event.status === 'ended') throw new AppError('conflict', `the event is ${event.status}`);
        const types = await tx<{ id: string; kind: string; sold: number }[]>`
          select id, kind, sold from ticket_types where event_id = ${eventId} for update`;
        const seated = new Map(types.filter((t) => t.kind === 'seated').map((t) => [t.id, t]));
        const unknown = [...new Set(flat.ticketType)].filter((id) => !seated.has(id));
        if (unknown.length) {
          throw new AppError('validation_failed', 'the seat map is invalid', {
            issues: unknown.slice(0, MAX_ISSUES).map((id) => ({ path: 'body.sections', message: `ticket type ${id} is not a seated type of this event` })),
          });
        }
        for (const type of seated.values()) {
          if (type.sold > 0 || (await heldCount(type.id)) > 0) {
            throw new AppError('conflict', 'seats of this event are already sold or held; the seat map can no longer be replaced');
          }
        }
        await tx`delete from seats where event_id = ${eventId}`;
        await tx`
          insert into seats (event_id, ticket_type_id, section, row_label, seat_number, x, y)
          select ${eventId}, t, s, r, n, x, y
          from unnest(${flat.section}::text[], ${flat.row}::text[], ${flat.number}::text[], ${flat.ticketType}::uuid[],
                      ${flat.x as number[]}::real[], ${flat.y as number[]}::real[]) as u(s, r, n, t, x, y)`;
        const counts = await tx<{ id: string; n: number }[]>`
          update ticket_types tt set capacity = coalesce(c.n, 0), updated_at = now()
          from (select t.id, (select count(*)::int from seats s where s.ticket_type_id = t.id) as n
                from ticket_types t where t.event_id = ${eventId} and t.kind = 'seated') c
          where tt.id = c.id
          returning tt.id, tt.capacity as n`;
        return {
          seats: flat.number.length,
          sections: map.sections.length,
          seatsByTicketType: Object.fromEntries(counts.map((c) => [c.id, c.n])),
        };
      });
    },

    /**
     * The compact seat map: sections -> rows -> seats as `[seatId, number, ticketTypeIndex, state]`,
     * state an index into `stateCodes`. Null when the event is not visible to the public.
     */
    async read(eventId: string, options: { publicOnly: boolean }): Promise<object | null> {
      const [event] = await sql<{ id: string; status: string }[]>`select id, status from events where id = ${eventId}`;
      if (!event || (options.publicOnly && event.status === 'draft')) return null;
      const [types, seats, states] = await Promise.all([
        sql<{ id: string; name: string; priceMinor: number; currency: string }[]>`
          select id, name, price_minor as "priceMinor", currency from ticket_types
          where event_id = ${eventId} and kind = 'seated' order by sort_order, name`,
        sql<{ id: string; section: string; row: string; number: string; ticketTypeId: string; status: string }[]>`
          select id::text, section, row_label as row, seat_number as number, ticket_type_id as "ticketTypeId", status
          from seats where event_id = ${eventId} order by id`,
        seatStates(eventId),
      ]);
      const typeIndex = new Map(types.map((t, i) => [t.id, i]));
      const sections: { name: string; rows: { label: string; seats: [string, string, number, number][] }[] }[] = [];
      const counts = { free: 0, held: 0, sold: 0, blocked: 0 };
      let section: (typeof sections)[number] | undefined;
      let row: (typeof sections)[number]['rows'][number] | undefined;
      for (const seat of seats) {
        if (section?.name !== seat.section) {
          section = sections.find((s) => s.name === seat.section) ?? { name: seat.section, rows: [] };
          if (!sections.includes(section)) sections.push(section);
          row = undefined;
        }
        if (row?.label !== seat.row) {
          row = section.rows.find((r) => r.label === seat.row) ?? { label: seat.row, seats: [] };
          if (!section.rows.includes(row)) section.rows.push(row);
        }
        const state = states.sold.has(seat.id) ? 2 : states.held.has(seat.id) ? 1 : seat.status === 'closed' ? 3 : 0;
        counts[SEAT_STATE_CODES[state]]++;
        row.seats.push([seat.id, seat.number, typeIndex.get(seat.ticketTypeId) ?? -1, state]);
      }
      return { eventId, stateCodes: SEAT_STATE_CODES, ticketTypes: types, counts, sections };
    },
  };
}

export type SeatMaps = ReturnType<typeof createSeatMaps>;
