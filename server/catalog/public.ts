// What buyers browse: published events (cursor pages, date filter, text search), one event with
// its ticket types, prices and what is still available.
import { AppError } from '../errors.ts';
import type { Sql } from '../store/index.ts';
import { eventColumns } from './events.ts';
import type { CatalogEvent, TicketType } from './schemas.ts';
import { ticketTypeColumns, type HeldCount } from './ticket-types.ts';

export interface EventQuery {
  from?: Date | undefined;
  to?: Date | undefined;
  q?: string | undefined;
  cursor?: string | undefined;
  limit: number;
}

type Cursor = [string, string];

function encodeCursor(event: CatalogEvent): string {
  return Buffer.from(JSON.stringify([event.startsAt.toISOString(), event.id] satisfies Cursor)).toString('base64url');
}

function decodeCursor(cursor: string): Cursor {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown;
    if (Array.isArray(value) && value.length === 2 && !Number.isNaN(Date.parse(String(value[0]))) && /^[0-9a-f-]{36}$/.test(String(value[1]))) {
      return [String(value[0]), String(value[1])];
    }
  } catch {
    // fall through
  }
  throw new AppError('validation_failed', 'the request is invalid', { issues: [{ path: 'querystring.cursor', message: 'not a cursor from this API' }] });
}

export interface PublicTicketType extends TicketType {
  available: number;
  onSaleNow: boolean;
}

export function createPublicCatalog(sql: Sql, heldCount: HeldCount) {
  return {
    async list(query: EventQuery): Promise<{ items: CatalogEvent[]; nextCursor: string | null }> {
      const after = query.cursor ? decodeCursor(query.cursor) : null;
      const rows = await sql<CatalogEvent[]>`
        select ${eventColumns(sql)} from events e
        where e.status = 'published'
          and ${query.from ? sql`e.starts_at >= ${query.from}` : sql`e.ends_at > now()`}
          ${query.to ? sql`and e.starts_at < ${query.to}` : sql``}
          ${query.q ? sql`and e.search @@ websearch_to_tsquery('simple', ${query.q})` : sql``}
          ${after ? sql`and (e.starts_at, e.id) > (${after[0]}::timestamptz, ${after[1]}::uuid)` : sql``}
        order by e.starts_at, e.id
        limit ${query.limit + 1}`;
      const items = rows.slice(0, query.limit);
      return { items, nextCursor: rows.length > query.limit ? encodeCursor(items.at(-1)!) : null };
    },

    /** A published, ended or cancelled event by id or slug, with live availability; drafts are not found. */
    async detail(idOrSlug: string): Promise<(CatalogEvent & { ticketTypes: PublicTicketType[] }) | null> {
      const byId = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(idOrSlug);
      const [event] = await sql<CatalogEvent[]>`
        select ${eventColumns(sql)} from events e
        where ${byId ? sql`e.id = ${idOrSlug}` : sql`e.slug = ${idOrSlug}`} and e.status <> 'draft'`;
      if (!event) return null;
      const types = await sql<TicketType[]>`
        select ${ticketTypeColumns(sql)} from ticket_types t where t.event_id = ${event.id} order by t.sort_order, t.name`;
      const now = new Date();
      const eventSelling = event.status === 'published' && event.salesStartAt <= now && now < event.salesEndAt;
      const ticketTypes = await Promise.all(
        types.map(async (t) => ({
          ...t,
          available: Math.max(0, t.capacity - t.sold - (await heldCount(t.id))),
          onSaleNow:
            eventSelling &&
            t.status === 'on_sale' &&
            (!t.salesStartAt || t.salesStartAt <= now) &&
            (!t.salesEndAt || now < t.salesEndAt),
        })),
      );
      return { ...event, ticketTypes };
    },
  };
}

export type PublicCatalog = ReturnType<typeof createPublicCatalog>;

/** Admin view: organizers with their event counts. */
export function listOrganizers(sql: Sql, limit: number) {
  return sql<{ id: string; email: string; displayName: string | null; events: number; publishedEvents: number; createdAt: Date }[]>`
    select u.id, u.email, u.display_name as "displayName", u.created_at as "createdAt",
           count(e.id)::int as events, count(e.id) filter (where e.status = 'published')::int as "publishedEvents"
    from users u left join events e on e.organizer_id = u.id
    where u.role = 'organizer'
    group by u.id order by u.created_at desc limit ${limit}`;
}
