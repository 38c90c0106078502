// What the waiting room needs to know about an event, read from the catalog's events table and
// kept for a second: every hold request of a spike asks, and so does every admission round.
import type { Sql } from '../store/index.ts';

/** How long an event's settings are reused: a change by its organizer applies within this. */
export const SETTINGS_CACHE_MS = 1_000;

export interface RoomSettings {
  eventId: string;
  status: 'published' | 'cancelled' | 'ended';
  /** A waiting room stands in front of the sale (high-demand, or forced on). */
  inForce: boolean;
  salesStartAt: number;
  salesEndAt: number;
  admitPerSecond: number;
}

interface SettingsRow {
  id: string;
  status: RoomSettings['status'] | 'draft';
  in_force: boolean;
  sales_start_at: Date;
  sales_end_at: Date;
  admit_per_second: number | null;
}

export function createRoomSettings(sql: Sql, defaults: { admitPerSecond: number }, now: () => number = Date.now) {
  const cache = new Map<string, { at: number; settings: RoomSettings | null }>();

  const settingsOf = (row: SettingsRow): RoomSettings | null =>
    row.status === 'draft'
      ? null
      : {
          eventId: row.id,
          status: row.status,
          inForce: row.in_force,
          salesStartAt: row.sales_start_at.getTime(),
          salesEndAt: row.sales_end_at.getTime(),
          admitPerSecond: row.admit_per_second ?? defaults.admitPerSecond,
        };

  /** Settings of these events (drafts and unknown ids map to null), from the cache where fresh. */
  async function many(eventIds: readonly string[]): Promise<Map<string, RoomSettings | null>> {
    const found = new Map<string, RoomSettings | null>();
    const stale: string[] = [];
    // Real time, not the rooms' clock: this is only about how fresh the copy is.
    const at = Date.now();
    for (const id of eventIds) {
      const cached = cache.get(id);
      if (cached && at - cached.at < SETTINGS_CACHE_MS) found.set(id, cached.settings);
      else stale.push(id);
    }
    if (stale.length) {
      const rows = await sql<SettingsRow[]>`
        select id, case when status = 'published' and ends_at < now() then 'ended' else status end as status,
               coalesce(waiting_room, high_demand) as in_force, sales_start_at, sales_end_at, admit_per_second
        from events where id in ${sql(stale)}`;
      const byId = new Map(rows.map((r) => [r.id, settingsOf(r)]));
      for (const id of stale) {
        const settings = byId.get(id) ?? null;
        cache.set(id, { at, settings });
        found.set(id, settings);
      }
      if (cache.size > 10_000) cache.clear();
    }
    return found;
  }

  return {
    many,
    async get(eventId: string): Promise<RoomSettings | null> {
      return (await many([eventId])).get(eventId) ?? null;
    },
    /** Whether a waiting room is in force for the event right now (its sale not over). */
    inForce(settings: RoomSettings | null): boolean {
      return settings !== null && settings.inForce && settings.status === 'published' && now() < settings.salesEndAt;
    },
  };
}

export type RoomSettingsReader = ReturnType<typeof createRoomSettings>;
