// What a live message says about an event, read from Redis together with the event's live version
// in one MULTI (every key carries the event's hash tag: one Redis Cluster slot). Each message is
// then a consistent cut of the inventory at its version, whichever node sends it: a watcher lets
// the newest version win, per seat and for the counts, in whatever order messages arrive.
import { inventoryKeys } from '../inventory/index.ts';
import type { Redis } from '../store/index.ts';

export interface AvailabilityCut {
  version: number;
  /** Units available per ticket type; null where Redis has no count (a new event, or after a flush). */
  counts: Record<string, number | null>;
  /** The seats asked for, as [seatId, 0 free / 1 held / 2 sold]. */
  seats: [string, number][];
}

/** A seat's inventory key holds the purchase holding it, or `sold:<purchase id>` once it is sold. */
export const seatStateIndex = (owner: string | null): number => (owner === null ? 0 : owner.startsWith('sold:') ? 2 : 1);

export function availabilityCuts(redis: Redis, keyPrefix: string) {
  const versionKey = (eventId: string) => `${keyPrefix}:{ev:${eventId}}:live-version`;

  async function cut(eventId: string, advance: boolean, ticketTypeIds: readonly string[], seatIds: readonly string[]): Promise<AvailabilityCut> {
    const keys = inventoryKeys(keyPrefix, eventId);
    const tx = redis.multi();
    if (advance) tx.incr(versionKey(eventId));
    else tx.get(versionKey(eventId));
    if (ticketTypeIds.length) tx.mget(...ticketTypeIds.map(keys.available));
    if (seatIds.length) tx.mget(...seatIds.map(keys.seat));
    const results = await tx.exec();
    if (!results) throw new Error('live availability read was aborted');
    const values = results.map(([err, value]) => {
      if (err) throw err;
      return value;
    });
    const counts = ticketTypeIds.length ? (values[1] as (string | null)[]) : [];
    const owners = seatIds.length ? (values[ticketTypeIds.length ? 2 : 1] as (string | null)[]) : [];
    return {
      version: Number(values[0] ?? 0),
      counts: Object.fromEntries(ticketTypeIds.map((id, i) => [id, (counts[i] ?? null) === null ? null : Number(counts[i])])),
      seats: seatIds.map((id, i) => [id, seatStateIndex(owners[i] ?? null)]),
    };
  }

  return {
    /** The event's next version, and its counts and these seats as they stand at it. */
    next: (eventId: string, ticketTypeIds: readonly string[], seatIds: readonly string[]) => cut(eventId, true, ticketTypeIds, seatIds),
    /** The event's current version (0 before its first update), and its counts as they stand at it. */
    current: (eventId: string, ticketTypeIds: readonly string[]) => cut(eventId, false, ticketTypeIds, []),
    /** The event's current version alone. */
    version: async (eventId: string) => Number((await redis.get(versionKey(eventId))) ?? 0),
  };
}
