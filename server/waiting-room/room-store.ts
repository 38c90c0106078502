// The waiting rooms' Redis state: per event a queue, the admitted accounts with their expiry, and a
// little bookkeeping, all under the event's hash tag {ev:<id>} (one Redis Cluster slot), changed
// only by the Lua scripts in ./lua. A plain set lists the events whose room the nodes tick.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Redis } from '../store/index.ts';

/** Lottery scores lie in [0, LOTTERY_SPAN); arrival n after the draw scores LOTTERY_SPAN + n. */
export const LOTTERY_SPAN = 2 ** 48;

/** The scripts' answer codes for where an account stands, named in one place. */
export const StandingCode = { none: 0, waiting: 1, admitted: 2, expired: 3 } as const;

/** A lapsed admission cleared by a join: none, lost without a hold, or ended after a hold. */
export const LapseCode = { none: 0, withoutHold: 1, afterHold: 2 } as const;

export function roomKeys(prefix: string, eventId: string) {
  const tag = `${prefix}:{ev:${eventId}}:wr`;
  // The order every script expects.
  return [`${tag}:queue`, `${tag}:admitted`, `${tag}:state`, `${tag}:held`, `${tag}:expired`];
}

export interface RoomSummary {
  /** Admitted so far: the account numbered n is at position n - through. */
  through: number;
  /** Whether the lottery was drawn (the queue's order is final). */
  drawn: boolean;
  /** Accounts in the queue. */
  waiting: number;
}

export type Standing =
  | ({ state: 'none' | 'expired' } & RoomSummary)
  | ({ state: 'waiting'; rank: number } & RoomSummary)
  | ({ state: 'admitted'; expiresAt: number } & RoomSummary);

export interface JoinRequest {
  now: number;
  salesStartAt: number;
  /** This account's lottery score, in [0, LOTTERY_SPAN); used only before the draw. */
  lotteryScore: number;
  keepUntil: number;
}

export interface RoundRequest {
  now: number;
  salesStartAt: number;
  perSecond: number;
  windowMs: number;
  maxElapsedMs: number;
  numbersPerRound: number;
  keepUntil: number;
}

export interface Round {
  through: number;
  waiting: number;
  /** Admissions still within their window. */
  live: number;
  expiresAt: number;
  drawnNow: boolean;
  admitted: string[];
  /** Lost their turn this round (admitted, no hold within the window). */
  lapsed: string[];
  lapsedAfterHold: number;
  /** Accounts in line at the draw, with the number each got. */
  numbered: { accountId: string; number: number }[];
}

type ScriptName = 'join' | 'admit' | 'status';
type Reply = (string | number | Reply)[];

/** A connection with the commands defineCommand added, looked up by name. */
type ScriptedRedis = Redis & { [command: string]: unknown };

/** Commands named after each script's content, so two deployed versions never run each other's. */
function defineScripts(redis: Redis): Record<ScriptName, string> {
  const names = {} as Record<ScriptName, string>;
  for (const [script, file] of [
    ['join', 'join-5.lua'],
    ['admit', 'admit-5.lua'],
    ['status', 'status-5.lua'],
  ] as const) {
    const lua = readFileSync(new URL(`./lua/${file}`, import.meta.url), 'utf8');
    const command = `bo_wr_${script}_${createHash('sha1').update(lua).digest('hex').slice(0, 10)}`;
    if (typeof (redis as ScriptedRedis)[command] !== 'function') redis.defineCommand(command, { lua, numberOfKeys: 5 });
    names[script] = command;
  }
  return names;
}

const summaryOf = (reply: Reply, at: number): RoomSummary => ({
  through: Number(reply[at]),
  drawn: Number(reply[at + 1]) === 1,
  waiting: Number(reply[at + 2]),
});

export function createRoomStore(redis: Redis, keyPrefix: string) {
  const scripts = defineScripts(redis);
  const roomsKey = `${keyPrefix}:waiting-rooms`;
  const run = async (script: ScriptName, eventId: string, args: (string | number)[]): Promise<Reply> => {
    const command = (redis as ScriptedRedis)[scripts[script]] as (...a: (string | number)[]) => Promise<Reply>;
    return command.call(redis, ...roomKeys(keyPrefix, eventId), ...args);
  };
  const integer = (n: number) => Math.floor(n).toFixed(0);

  function standing(reply: Reply, value: number, summary: RoomSummary): Standing {
    switch (Number(reply[0])) {
      case StandingCode.waiting:
        return { state: 'waiting', rank: value, ...summary };
      case StandingCode.admitted:
        return { state: 'admitted', expiresAt: value, ...summary };
      case StandingCode.expired:
        return { state: 'expired', ...summary };
      case StandingCode.none:
        return { state: 'none', ...summary };
      default:
        throw new Error(`waiting room script answered ${String(reply[0])}`);
    }
  }

  return {
    /** Puts the account in line (once); `lapse` says whether a lapsed admission was cleared on the way. */
    async join(eventId: string, accountId: string, request: JoinRequest): Promise<{ standing: Standing; lapse: number }> {
      const reply = await run('join', eventId, [
        accountId,
        integer(request.now),
        integer(request.salesStartAt),
        integer(request.lotteryScore),
        integer(LOTTERY_SPAN),
        integer(request.keepUntil),
      ]);
      await redis.sadd(roomsKey, eventId);
      return { standing: standing(reply, Number(reply[1]), summaryOf(reply, 2)), lapse: Number(reply[5]) };
    },

    async status(eventId: string, accountId: string, now: number): Promise<Standing> {
      const reply = await run('status', eventId, [accountId, integer(now)]);
      return standing(reply, Number(reply[1]), summaryOf(reply, 2));
    },

    /** One admission round (see lua/admit-5.lua). */
    async admit(eventId: string, request: RoundRequest): Promise<Round> {
      const reply = await run('admit', eventId, [
        integer(request.now),
        integer(request.salesStartAt),
        request.perSecond,
        integer(request.windowMs),
        integer(request.maxElapsedMs),
        request.numbersPerRound,
        integer(request.keepUntil),
      ]);
      const numbered: Round['numbered'] = [];
      const pairs = reply[8] as Reply;
      for (let i = 0; i < pairs.length; i += 2) numbered.push({ accountId: String(pairs[i]), number: Number(pairs[i + 1]) });
      return {
        through: Number(reply[0]),
        waiting: Number(reply[1]),
        live: Number(reply[2]),
        expiresAt: Number(reply[3]),
        drawnNow: Number(reply[4]) === 1,
        admitted: (reply[5] as Reply).map(String),
        lapsed: (reply[6] as Reply).map(String),
        lapsedAfterHold: Number(reply[7]),
        numbered,
      };
    },

    /** The account placed a hold while admitted: its admission ends as used, not lost. */
    async markHeld(eventId: string, accountId: string): Promise<void> {
      await redis.sadd(roomKeys(keyPrefix, eventId)[3]!, accountId);
    },

    /** Events whose room the nodes tick. */
    rooms: (): Promise<string[]> => redis.smembers(roomsKey),

    /**
     * Stops ticking a room that has nobody waiting or admitted (its keys stay, so its count and
     * draw survive). A join racing with this re-adds the room after its queue write, so the queue
     * is checked again after the removal and the room put back if someone got in meanwhile.
     */
    async deactivate(eventId: string): Promise<void> {
      await redis.srem(roomsKey, eventId);
      const [queue, admitted] = roomKeys(keyPrefix, eventId);
      const [waiting, live] = await Promise.all([redis.zcard(queue!), redis.zcard(admitted!)]);
      if (waiting + live > 0) await redis.sadd(roomsKey, eventId);
    },

    /** Forgets a room entirely (its event no longer has one, or its sale is over). */
    async drop(eventId: string): Promise<void> {
      await redis.srem(roomsKey, eventId);
      await redis.unlink(...roomKeys(keyPrefix, eventId));
    },

    /** Accounts waiting in every ticked room. */
    async waitingTotal(): Promise<number> {
      // One command per room (rooms live in different cluster slots; a pipeline may not span them).
      const rooms = await redis.smembers(roomsKey);
      const sizes = await Promise.all(rooms.map((eventId) => redis.zcard(roomKeys(keyPrefix, eventId)[0]!)));
      return sizes.reduce((sum, n) => sum + n, 0);
    },
  };
}

export type RoomStore = ReturnType<typeof createRoomStore>;
