// The fast gate in front of Postgres: holds placed and released atomically by Lua scripts in Redis.
// General admission decrements an available count; seats are claimed all or none. Every hold gets
// a fencing token (a per-event counter that only grows). All keys of one event carry the hash tag
// {ev:<id>}, so an event's hot keys stay in one Redis Cluster slot.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Redis } from '../store/index.ts';

/** Script outcomes (the Lua scripts' status codes), named in one place. */
export const HoldCode = {
  held: 1,
  alreadyHeld: 0,
  soldOut: -1,
  seatTaken: -2,
  notInitialised: -3,
  staleToken: -4,
} as const;

export interface HoldItem {
  ticketTypeId: string;
  quantity: number;
  seatIds?: string[] | undefined;
}

export interface HoldRequest {
  purchaseId: string;
  eventId: string;
  items: readonly HoldItem[];
  deadline: Date;
  /** How long past the deadline the seat keys may outlive a lost release (safety net; the record is kept longer). */
  graceMs: number;
  /**
   * The purchase released this hold and claims the units again (a late payment): if the hold's
   * record is still there (its release not run yet), give it back and hold anew, so the late
   * release meets a stale token instead of returning units about to be sold. A record with any
   * other token is this reclaim's own, retried: it is adopted.
   */
  replacing?: string;
}

export type HoldResult =
  | { ok: true; token: string; deadline: Date; retried: boolean }
  | { ok: false; reason: 'sold_out'; ticketTypeId: string }
  | { ok: false; reason: 'seat_taken'; seatId: string }
  | { ok: false; reason: 'not_on_sale'; ticketTypeId: string };

export interface ReleaseRequest {
  purchaseId: string;
  eventId: string;
  items: readonly HoldItem[];
  token: string;
}

/**
 * How long a hold record may outlive its seat keys. The seats' TTL (deadline + grace) frees them
 * should every release be lost; the record carries the units to give back, so a release that comes
 * after the grace must still find it. A hold always ends by its release or its conversion: this
 * only clears the record of a purchase lost for good.
 */
const HOLD_RECORD_KEEP_MS = 7 * 24 * 3600 * 1000;

type ScriptName = 'hold' | 'release' | 'checkHold' | 'convert' | 'restock' | 'restore';

/** A connection with the commands defineCommand added, looked up by name. */
type ScriptedRedis = Redis & { [command: string]: unknown };

/** Loads a script and names its command after its content, so two versions never run each other's. */
function defineScripts(redis: Redis): Record<ScriptName, string> {
  const names = {} as Record<ScriptName, string>;
  for (const script of ['hold', 'release', 'checkHold', 'convert', 'restock', 'restore'] as const) {
    const lua = readFileSync(new URL(`./lua/${script}.lua`, import.meta.url), 'utf8');
    const command = `bo_${script}_${createHash('sha1').update(lua).digest('hex').slice(0, 10)}`;
    if (typeof (redis as ScriptedRedis)[command] !== 'function') redis.defineCommand(command, { lua });
    names[script] = command;
  }
  return names;
}

export function inventoryKeys(prefix: string, eventId: string) {
  const tag = `${prefix}:{ev:${eventId}}`;
  return {
    hold: (purchaseId: string) => `${tag}:hold:${purchaseId}`,
    fence: () => `${tag}:fence`,
    available: (ticketTypeId: string) => `${tag}:avail:${ticketTypeId}`,
    seat: (seatId: string) => `${tag}:seat:${seatId}`,
    restocked: (requestId: string) => `${tag}:restocked:${requestId}`,
    /**
     * What changed since the last live update (seat keys, and '*' for the counts), recorded by the
     * scripts that change it: the update that takes it is sent by any node, even if the one that
     * made the change died before it could tell anyone.
     */
    changes: () => `${tag}:live-changes`,
  };
}

/** What PostgreSQL knows of an event's inventory, for Redis to get back what it lost. */
export interface InventoryRecord {
  /** The highest fencing token handed out: the counter goes on from at least there. */
  fenceAtLeast: number;
  /** Units available per ticket type: capacity - sold - what the holds below (and others placed) set aside. */
  counts: Readonly<Record<string, number>>;
  /** Set the counts even where Redis has them (default: only missing ones). */
  overwrite?: boolean;
  /** Sold seats and the purchase that bought each. */
  sold: readonly { seatId: string; purchaseId: string }[];
  /** Live holds as the purchases know them: token, deadline (epoch ms) and items in the hold's order. */
  holds: readonly { purchaseId: string; token: string; deadline: number; items: readonly HoldItem[] }[];
  /** How long past its deadline a restored held seat may stay blocked should every release be lost. */
  seatGraceMs: number;
}

export interface Inventory {
  hold(request: HoldRequest): Promise<HoldResult>;
  release(request: ReleaseRequest): Promise<'released' | 'nothing_held' | 'stale_token'>;
  /** The hold became tickets: its units stay taken and its seats stay blocked. */
  convert(request: ReleaseRequest): Promise<'converted' | 'nothing_held' | 'stale_token'>;
  /** Whether the purchase still holds with this token (checked before tickets are issued). */
  holdStatus(eventId: string, purchaseId: string, token: string): Promise<'live' | 'missing' | 'stale'>;
  /**
   * After Redis lost an event's keys, in one atomic step: a fencing counter at least as high as
   * any token handed out (tokens keep growing), the sold seats, the missing counts, and the hold
   * records and seats of the holds those counts set aside, so their releases give them back.
   * Resolves with the purchases whose hold record was put back.
   */
  restore(eventId: string, record: InventoryRecord): Promise<string[]>;
  /** Voided tickets go back on sale: units per ticket type, and their seats freed; once per requestId. */
  restock(request: { eventId: string; purchaseId: string; requestId: string; units: Readonly<Record<string, number>>; seatIds: readonly string[] }): Promise<boolean>;
  setAvailable(eventId: string, counts: Readonly<Record<string, number>>, options?: { onlyIfMissing?: boolean }): Promise<void>;
  available(eventId: string, ticketTypeIds: readonly string[]): Promise<Record<string, number | null>>;
  seatOwners(eventId: string, seatIds: readonly string[]): Promise<(string | null)[]>;
}

/** `now` reads the clock hold deadlines are on (epoch ms; the purchases' store clock), for the records' time to live. */
export function createInventory(redis: Redis, keyPrefix: string, now: () => number = Date.now): Inventory {
  const scripts = defineScripts(redis);
  const run = (script: ScriptName, keys: string[], args: (string | number)[]): Promise<unknown> => {
    const command = (redis as ScriptedRedis)[scripts[script]] as (...a: (string | number)[]) => Promise<unknown>;
    return command.call(redis, keys.length, ...keys, ...args);
  };

  function layout(eventId: string, purchaseId: string, items: readonly HoldItem[]) {
    const k = inventoryKeys(keyPrefix, eventId);
    const types = items.map((i) => i.ticketTypeId);
    const seats = items.flatMap((i) => i.seatIds ?? []);
    return { types, seats, keys: [k.hold(purchaseId), k.fence(), ...types.map(k.available), ...seats.map(k.seat), k.changes()] };
  }

  return {
    async hold(request) {
      const { types, seats, keys } = layout(request.eventId, request.purchaseId, request.items);
      const ttl = Math.max(1, request.deadline.getTime() - now()) + request.graceMs;
      const args = [request.purchaseId, request.deadline.getTime(), ttl, types.length, ...request.items.map((i) => i.quantity), request.replacing ?? '', HOLD_RECORD_KEEP_MS];
      const [code, value, deadline] = (await run('hold', keys, args)) as [number, number, number | undefined];
      switch (code) {
        case HoldCode.held:
        case HoldCode.alreadyHeld:
          return { ok: true, token: String(value), deadline: new Date(deadline ?? request.deadline.getTime()), retried: code === HoldCode.alreadyHeld };
        case HoldCode.soldOut:
          return { ok: false, reason: 'sold_out', ticketTypeId: types[value - 1]! };
        case HoldCode.seatTaken:
          return { ok: false, reason: 'seat_taken', seatId: seats[value - 1]! };
        case HoldCode.notInitialised:
          return { ok: false, reason: 'not_on_sale', ticketTypeId: types[value - 1]! };
        default:
          throw new Error(`hold script answered ${String(code)}`);
      }
    },

    async release(request) {
      const { types, keys } = layout(request.eventId, request.purchaseId, request.items);
      const args = [request.purchaseId, request.token, types.length];
      const code = (await run('release', keys, args)) as number;
      if (code === 1) return 'released';
      if (code === 0) return 'nothing_held';
      if (code === HoldCode.staleToken) return 'stale_token';
      throw new Error(`release script answered ${code}`);
    },

    async convert(request) {
      const { types, keys } = layout(request.eventId, request.purchaseId, request.items);
      const code = (await run('convert', keys, [request.purchaseId, request.token, types.length])) as number;
      if (code === 1) return 'converted';
      if (code === 0) return 'nothing_held';
      if (code === HoldCode.staleToken) return 'stale_token';
      throw new Error(`convert script answered ${code}`);
    },

    async holdStatus(eventId, purchaseId, token) {
      const key = inventoryKeys(keyPrefix, eventId).hold(purchaseId);
      const code = (await run('checkHold', [key], [token])) as number;
      return code === 1 ? 'live' : code === HoldCode.staleToken ? 'stale' : 'missing';
    },

    async restock({ eventId, purchaseId, requestId, units, seatIds }) {
      const k = inventoryKeys(keyPrefix, eventId);
      const types = Object.keys(units);
      const keys = [k.restocked(requestId), ...types.map(k.available), ...seatIds.map(k.seat), k.changes()];
      const args = [purchaseId, types.length, ...types.map((t) => units[t]!), 30 * 24 * 3600 * 1000];
      return ((await run('restock', keys, args)) as number) === 1;
    },

    async restore(eventId, record) {
      const k = inventoryKeys(keyPrefix, eventId);
      const types = Object.keys(record.counts);
      const index = new Map(types.map((id, i) => [id, i + 1]));
      // A hold on a ticket type without a count here cannot be accounted for: left out.
      const holds = record.holds.filter((h) => h.items.every((i) => index.has(i.ticketTypeId)));
      const keys = [k.fence(), ...types.map(k.available), ...record.sold.map((s) => k.seat(s.seatId))];
      const at = now();
      const state = {
        fence: String(Math.max(0, Math.floor(record.fenceAtLeast))),
        counts: types.map((id) => String(record.counts[id])),
        overwrite: record.overwrite ?? false,
        sold: record.sold.map((s) => s.purchaseId),
        holds: holds.map((h) => {
          const seats = h.items.flatMap((i) => i.seatIds ?? []);
          keys.push(k.hold(h.purchaseId), ...seats.map(k.seat));
          const seatTtl = Math.max(1_000, h.deadline - at + record.seatGraceMs);
          return {
            purchase: h.purchaseId,
            token: h.token,
            deadline: String(h.deadline),
            seatTtl: String(seatTtl),
            recordTtl: String(Math.max(seatTtl, HOLD_RECORD_KEEP_MS)),
            items: h.items.map((i) => [index.get(i.ticketTypeId)!, i.quantity]),
            seats: seats.length,
          };
        }),
      };
      keys.push(k.changes());
      return (await run('restore', keys, [JSON.stringify(state)])) as string[];
    },

    async setAvailable(eventId, counts, options) {
      const k = inventoryKeys(keyPrefix, eventId);
      const entries = Object.entries(counts);
      if (!entries.length) return;
      if (!options?.onlyIfMissing) {
        await redis.mset(...entries.flatMap(([id, n]) => [k.available(id), String(n)]));
        return;
      }
      const pipeline = redis.pipeline();
      for (const [id, n] of entries) pipeline.set(k.available(id), String(n), 'NX');
      await pipeline.exec();
    },

    async available(eventId, ticketTypeIds) {
      if (!ticketTypeIds.length) return {};
      const k = inventoryKeys(keyPrefix, eventId);
      const values = await redis.mget(...ticketTypeIds.map(k.available));
      return Object.fromEntries(ticketTypeIds.map((id, i) => [id, values[i] === null ? null : Number(values[i])]));
    },

    async seatOwners(eventId, seatIds) {
      if (!seatIds.length) return [];
      const k = inventoryKeys(keyPrefix, eventId);
      return redis.mget(...seatIds.map(k.seat));
    },
  };
}
