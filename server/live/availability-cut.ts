// What a live message says about an event, read from Redis together with the event's live version
// in one atomic step (every key carries the event's hash tag: one Redis Cluster slot). Each message
// is then a consistent cut of the inventory at its version, whichever node sends it: a watcher lets
// the newest version win, per seat and for the counts, in whatever order messages arrive. An update
// also takes the event's recorded changes (written by the inventory scripts with each change), so a
// change whose node died before telling anyone still goes out with the next update from any node.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
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

const LIVE_CUT_LUA = readFileSync(new URL('./live-cut.lua', import.meta.url), 'utf8');
/** Named after the script's content, so two deployed versions never run each other's. */
const LIVE_CUT_COMMAND = `bo_liveCut_${createHash('sha1').update(LIVE_CUT_LUA).digest('hex').slice(0, 10)}`;

type LiveCutReply = [number, (string | null)[], string[], (string | null)[]];

export function availabilityCuts(redis: Redis, keyPrefix: string) {
  const versionKey = (eventId: string) => `${keyPrefix}:{ev:${eventId}}:live-version`;
  if (typeof (redis as unknown as Record<string, unknown>)[LIVE_CUT_COMMAND] !== 'function') redis.defineCommand(LIVE_CUT_COMMAND, { lua: LIVE_CUT_LUA });
  const liveCut = (redis as unknown as Record<string, (...args: (string | number)[]) => Promise<LiveCutReply>>)[LIVE_CUT_COMMAND]!.bind(redis);

  /** The next version: takes the recorded changes, reads the counts and every changed seat at it. */
  async function next(eventId: string, ticketTypeIds: readonly string[], seatIds: readonly string[]): Promise<AvailabilityCut> {
    const keys = inventoryKeys(keyPrefix, eventId);
    const seatPrefix = keys.seat('');
    const keyList = [versionKey(eventId), keys.changes(), ...ticketTypeIds.map(keys.available), ...seatIds.map(keys.seat)];
    const [version, counts, seatKeys, owners] = await liveCut(keyList.length, ...keyList, ticketTypeIds.length, Date.now());
    return {
      version: Number(version),
      counts: Object.fromEntries(ticketTypeIds.map((id, i) => [id, (counts[i] ?? null) === null ? null : Number(counts[i])])),
      seats: seatKeys.map((key, i) => [key.slice(seatPrefix.length), seatStateIndex(owners[i] ?? null)]),
    };
  }

  async function current(eventId: string, ticketTypeIds: readonly string[]): Promise<AvailabilityCut> {
    const keys = inventoryKeys(keyPrefix, eventId);
    const tx = redis.multi();
    // A missing version starts at now, as in live-cut.lua: snapshot and updates then count on from one base.
    tx.set(versionKey(eventId), String(Date.now()), 'NX');
    tx.get(versionKey(eventId));
    if (ticketTypeIds.length) tx.mget(...ticketTypeIds.map(keys.available));
    const results = await tx.exec();
    if (!results) throw new Error('live availability read was aborted');
    const values = results.map(([err, value]) => {
      if (err) throw err;
      return value;
    });
    const counts = ticketTypeIds.length ? (values[2] as (string | null)[]) : [];
    return {
      version: Number(values[1]),
      counts: Object.fromEntries(ticketTypeIds.map((id, i) => [id, (counts[i] ?? null) === null ? null : Number(counts[i])])),
      seats: [],
    };
  }

  return {
    /** The event's next version, and its counts and its changed seats (recorded, and these) as they stand at it. */
    next,
    /**
     * The event's current version, and its counts as they stand at it. A version Redis does not
     * have (a new event, or a flushed Redis) starts at the current time in ms: higher than any it
     * had before, so watchers that knew the old ones see the jump and re-sync.
     */
    current,
    /** The event's current version alone. */
    version: async (eventId: string) => Number((await redis.get(versionKey(eventId))) ?? 0),
    /** Whether changes of the event wait for an update (their node may be gone). */
    hasChanges: async (eventId: string) => (await redis.exists(inventoryKeys(keyPrefix, eventId).changes())) === 1,
  };
}
