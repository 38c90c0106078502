// Organizer-side events: create (draft), update, publish, cancel. An organizer reaches only its own
// events; an admin reaches all. Another organizer's event answers 404, never 403.
import { randomBytes } from 'node:crypto';
import { AppError } from '../errors.ts';
import { recordAudit } from '../identity/index.ts';
import type { Sql, TransactionSql } from '../store/index.ts';
import { applyPatch } from './patch.ts';
import type { CatalogEvent, CreateEvent, UpdateEvent } from './schemas.ts';

export interface Actor {
  userId: string;
  role: 'customer' | 'organizer' | 'admin';
  requestId?: string;
}

type Db = Sql | TransactionSql;

export const eventColumns = (sql: Db) => sql`
  e.id, e.organizer_id as "organizerId", e.slug, e.title, e.description, e.venue_name as "venueName",
  e.venue_address as "venueAddress", e.timezone, e.starts_at as "startsAt", e.ends_at as "endsAt",
  e.sales_start_at as "salesStartAt", e.sales_end_at as "salesEndAt",
  case when e.status = 'published' and e.ends_at < now() then 'ended' else e.status end as status,
  e.published_at as "publishedAt", e.cancelled_at as "cancelledAt", e.created_at as "createdAt", e.updated_at as "updatedAt",
  e.high_demand as "highDemand", e.waiting_room as "waitingRoom", e.admit_per_second as "admitPerSecond",
  coalesce(e.waiting_room, e.high_demand) as "waitingRoomInForce"`;

/** Loads an event the actor may manage, optionally row-locked; 404 otherwise. */
export async function ownedEvent(db: Db, eventId: string, actor: Actor, lock = false): Promise<CatalogEvent> {
  const [event] = await db<CatalogEvent[]>`
    select ${eventColumns(db)} from events e where e.id = ${eventId} ${lock ? db`for update` : db``}`;
  if (!event || (actor.role !== 'admin' && event.organizerId !== actor.userId)) throw new AppError('not_found', 'event not found');
  return event;
}

function slugFrom(title: string): string {
  const base = title
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
  return `${base.length >= 3 ? base : 'event'}-${randomBytes(3).toString('hex')}`;
}

function assertWindows(e: Pick<CatalogEvent, 'startsAt' | 'endsAt' | 'salesStartAt' | 'salesEndAt'>): void {
  const issues: { path: string; message: string }[] = [];
  if (e.endsAt <= e.startsAt) issues.push({ path: 'body.endsAt', message: 'must be after startsAt' });
  if (e.salesEndAt <= e.salesStartAt) issues.push({ path: 'body.salesEndAt', message: 'must be after salesStartAt' });
  if (e.salesEndAt > e.endsAt) issues.push({ path: 'body.salesEndAt', message: 'sales must end by the end of the event' });
  if (issues.length) throw new AppError('validation_failed', 'the request is invalid', { issues });
}

export interface EventHooks {
  /** After an event's cancellation is committed: its purchases are to be refunded. */
  onCancelled?: (eventId: string) => Promise<void>;
}

export function createEvents(sql: Sql, hooks: EventHooks = {}) {
  return {
    async create(actor: Actor, input: CreateEvent): Promise<CatalogEvent> {
      const slug = input.slug ?? slugFrom(input.title);
      return sql.begin(async (tx) => {
        const [taken] = await tx`select 1 from events where slug = ${slug}`;
        if (taken) throw new AppError('conflict', 'that slug is taken', { field: 'slug' });
        const [row] = await tx<{ id: string }[]>`
          insert into events (organizer_id, slug, title, description, venue_name, venue_address, timezone,
                              starts_at, ends_at, sales_start_at, sales_end_at, high_demand, waiting_room, admit_per_second)
          values (${actor.userId}, ${slug}, ${input.title}, ${input.description}, ${input.venueName ?? null},
                  ${input.venueAddress ?? null}, ${input.timezone}, ${input.startsAt}, ${input.endsAt},
                  ${input.salesStartAt}, ${input.salesEndAt}, ${input.highDemand ?? false}, ${input.waitingRoom ?? null},
                  ${input.admitPerSecond ?? null})
          returning id`;
        return ownedEvent(tx, row!.id, actor);
      });
    },

    async update(actor: Actor, eventId: string, input: UpdateEvent): Promise<CatalogEvent> {
      return sql.begin(async (tx) => {
        const current = await ownedEvent(tx, eventId, actor, true);
        if (current.status === 'cancelled' || current.status === 'ended') {
          throw new AppError('conflict', `a ${current.status} event cannot be changed`);
        }
        const next = applyPatch(current, input);
        assertWindows(next);
        await tx`
          update events set title = ${next.title}, description = ${next.description}, venue_name = ${next.venueName},
            venue_address = ${next.venueAddress}, timezone = ${next.timezone}, starts_at = ${next.startsAt},
            ends_at = ${next.endsAt}, sales_start_at = ${next.salesStartAt}, sales_end_at = ${next.salesEndAt},
            high_demand = ${next.highDemand}, waiting_room = ${next.waitingRoom}, admit_per_second = ${next.admitPerSecond},
            updated_at = now()
          where id = ${eventId}`;
        return ownedEvent(tx, eventId, actor);
      });
    },

    async publish(actor: Actor, eventId: string): Promise<CatalogEvent> {
      return sql.begin(async (tx) => {
        const event = await ownedEvent(tx, eventId, actor, true);
        if (event.status === 'published') return event;
        if (event.status !== 'draft') throw new AppError('conflict', `a ${event.status} event cannot be published`);
        if (event.endsAt <= new Date()) throw new AppError('conflict', 'the event is already over');
        const [types] = await tx<{ n: number }[]>`select count(*)::int as n from ticket_types where event_id = ${eventId}`;
        if (!types?.n) throw new AppError('conflict', 'add at least one ticket type before publishing');
        const [unseated] = await tx<{ name: string }[]>`
          select name from ticket_types where event_id = ${eventId} and kind = 'seated' and capacity = 0 limit 1`;
        if (unseated) throw new AppError('conflict', `seated ticket type "${unseated.name}" has no seats; import a seat map first`);
        await tx`update events set status = 'published', published_at = now(), updated_at = now() where id = ${eventId}`;
        await recordAudit(tx, {
          action: 'catalog.event.published',
          actor: { kind: 'user', id: actor.userId },
          subject: { type: 'event', id: eventId },
          requestId: actor.requestId ?? null,
        });
        return ownedEvent(tx, eventId, actor);
      });
    },

    /**
     * Stops all sales at once, then asks (onCancelled) for its purchases to be refunded: a queued
     * job, and the purchases sweep finds any cancelled event whose purchases still stand.
     */
    async cancel(actor: Actor, eventId: string, reason: string | null): Promise<CatalogEvent> {
      const result = await sql.begin(async (tx) => {
        const event = await ownedEvent(tx, eventId, actor, true);
        if (event.status === 'cancelled') return event;
        if (event.status === 'ended') throw new AppError('conflict', 'an event that has ended cannot be cancelled');
        await tx`update events set status = 'cancelled', cancelled_at = now(), updated_at = now() where id = ${eventId}`;
        await tx`update ticket_types set status = 'closed', updated_at = now() where event_id = ${eventId}`;
        await recordAudit(tx, {
          action: 'catalog.event.cancelled',
          actor: { kind: 'user', id: actor.userId },
          subject: { type: 'event', id: eventId },
          reason,
          requestId: actor.requestId ?? null,
        });
        return ownedEvent(tx, eventId, actor);
      });
      // Also when it was already cancelled: asking again is harmless, and repairs a lost request.
      await hooks.onCancelled?.(eventId);
      return result;
    },

    get: (actor: Actor, eventId: string) => ownedEvent(sql, eventId, actor),

    async listOwn(actor: Actor, limit: number): Promise<CatalogEvent[]> {
      return sql<CatalogEvent[]>`
        select ${eventColumns(sql)} from events e where e.organizer_id = ${actor.userId}
        order by e.starts_at desc, e.id limit ${limit}`;
    },
  };
}

export type Events = ReturnType<typeof createEvents>;
