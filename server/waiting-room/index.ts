// Waiting rooms (issue 10): a virtual line in front of the sale of a high-demand event. Visitors
// who come before the on-sale instant get a lottery place, later ones arrival order; every node
// admits them at the event's rate, pushes positions and admissions over Socket.IO, and holds on
// such an event need the admission token. Wires one node's share; see README "Waiting room".
import { randomInt } from 'node:crypto';
import type { Server } from 'socket.io';
import type { Config } from '../config.ts';
import type { Logger, Metrics } from '../observability/index.ts';
import type { Redis, Sql } from '../store/index.ts';
import { createAdmissionTokens } from './admission-tokens.ts';
import { createRoomSettings } from './room-settings.ts';
import { createRoomStore, LOTTERY_SPAN } from './room-store.ts';
import { waitingRoomRoutes } from './routes.ts';
import { attachWaitingRoomSocket } from './socket.ts';
import { createTicker, type Pushes } from './ticker.ts';
import { createVisitors } from './visitors.ts';

export { ADMISSION_AUDIENCE, ADMISSION_HEADER, ADMISSION_ISSUER, createAdmissionTokens, type AdmissionTokens } from './admission-tokens.ts';
export { LOTTERY_SPAN, roomKeys, type Round, type Standing } from './room-store.ts';
export { waitingRoomStatusSchema, type WaitingRoomStatus } from './status.ts';
export type { QueueUpdate } from './ticker.ts';

export interface WaitingRoomDeps {
  config: Config;
  sql: Sql;
  redis: Redis;
  log: Logger;
  metrics?: Metrics;
  /** The rooms' clock, epoch ms (default Date.now); tests drive it. */
  now?: () => number;
  /** Lottery scores in [0, LOTTERY_SPAN) (default: crypto random); tests fix the draw. */
  lotteryScore?: () => number;
}

export function createWaitingRoom({ config, sql, redis, log, metrics, now = Date.now, lotteryScore }: WaitingRoomDeps) {
  const store = createRoomStore(redis, config.redis.keyPrefix);
  const settings = createRoomSettings(sql, { admitPerSecond: config.waitingRoom.admitPerSecond }, now);
  const tokens = createAdmissionTokens(config.auth.jwtSecret);
  const visitors = createVisitors({
    store,
    settings,
    tokens,
    now,
    lotteryScore: lotteryScore ?? (() => randomInt(0, LOTTERY_SPAN - 1)),
    ...(metrics ? { onLapsed: () => metrics.waitingRoomExpired.inc() } : {}),
  });
  let pushes: Pushes | null = null;
  const ticker = createTicker({
    store,
    settings,
    tokens,
    now,
    holdWindowMs: config.waitingRoom.holdWindowSeconds * 1000,
    tickMs: config.waitingRoom.tickMs,
    log,
    pushes: () => pushes,
    ...(metrics
      ? { onAdmitted: (n: number) => metrics.waitingRoomAdmitted.inc(n), onLapsed: (n: number) => metrics.waitingRoomExpired.inc(n) }
      : {}),
  });
  metrics?.readFrom({ waitingRoomWaiting: () => store.waitingTotal() });

  return {
    visitors,
    /** The hold path's admission check (purchases' AdmissionGate). */
    gate: visitors.gate,
    tokens,
    store,
    routes: waitingRoomRoutes({ visitors, perUserPerMinute: config.rateLimits.waitingRoomPerUserPerMinute }),
    /** One admission round for every room, now (the timer does this every WAITING_ROOM_TICK_MS). */
    tick: () => ticker.tick(),
    /** Socket.IO is up: visitors can watch their line, and rounds push to them. */
    attach(io: Server): void {
      pushes = attachWaitingRoomSocket(io, { status: (eventId, accountId) => visitors.status(eventId, accountId), log });
    },
    start: () => ticker.start(),
    close: () => ticker.close(),
  };
}

export type WaitingRoom = ReturnType<typeof createWaitingRoom>;
