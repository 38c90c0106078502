// Admission rounds: every node, every WAITING_ROOM_TICK_MS, runs one round for each room that has
// someone waiting or admitted. Rounds are atomic Lua scripts that count only the time since the
// previous round, so nodes ticking at once never admit more than the rate. The node whose round
// admitted someone tells them (a token over Socket.IO) and moves the line for everyone (one
// "admitted through N" message per room).
import type { Logger } from '../observability/index.ts';
import type { AdmissionTokens } from './admission-tokens.ts';
import type { RoomSettings, RoomSettingsReader } from './room-settings.ts';
import type { Round, RoomStore } from './room-store.ts';
import { presentStatus, type WaitingRoomStatus } from './status.ts';
import { KEEP_AFTER_SALE_MS } from './visitors.ts';

/** Accounts in line at the draw told their number per round and room (the rest in later rounds). */
export const NUMBERS_PER_ROUND = 2_000;

/** The room-wide message after a round moved the line: each visitor's position is number - admittedThrough. */
export interface QueueUpdate {
  eventId: string;
  admittedThrough: number;
  waiting: number;
  admitPerSecond: number;
  /** False from the draw on: every visitor in line has a number. */
  lottery: boolean;
  at: string;
}

export interface Pushes {
  lineMoved(update: QueueUpdate): void;
  visitor(accountId: string, status: WaitingRoomStatus): void;
}

export interface TickerDeps {
  store: RoomStore;
  settings: RoomSettingsReader;
  tokens: AdmissionTokens;
  now: () => number;
  holdWindowMs: number;
  tickMs: number;
  log: Logger;
  /** Where pushes go once Socket.IO is attached (none before). */
  pushes: () => Pushes | null;
  onAdmitted?: (count: number) => void;
  onLapsed?: (count: number) => void;
}

export function createTicker(deps: TickerDeps) {
  const { store, settings, now } = deps;
  // One round may count at most this much time: after a pause (no node ticked, or the room was
  // idle) the burst stays within two ticks' worth.
  const maxElapsedMs = Math.max(2 * deps.tickMs, 1_000);
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> | null = null;

  async function tell(room: RoomSettings, round: Round, at: number): Promise<void> {
    const pushes = deps.pushes();
    if (!pushes) return;
    const { eventId } = room;
    const summary = { through: round.through, drawn: true, waiting: round.waiting };
    if (round.admitted.length || round.drawnNow || round.numbered.length) {
      pushes.lineMoved({
        eventId,
        admittedThrough: round.through,
        waiting: round.waiting,
        admitPerSecond: room.admitPerSecond,
        lottery: false,
        at: new Date(at).toISOString(),
      });
    }
    const admitted = { state: 'admitted' as const, expiresAt: round.expiresAt, ...summary };
    await Promise.all(
      round.admitted.map(async (accountId) => {
        const token = await deps.tokens.sign({ accountId, eventId, expiresAt: round.expiresAt }, at);
        pushes.visitor(accountId, presentStatus(room, admitted, token));
      }),
    );
    for (const accountId of round.lapsed) pushes.visitor(accountId, presentStatus(room, { state: 'expired', ...summary }));
    for (const { accountId, number } of round.numbered) {
      pushes.visitor(accountId, presentStatus(room, { state: 'waiting', rank: number - round.through - 1, ...summary }));
    }
  }

  /** One round for every ticked room; a room whose event no longer has one (or whose sale is over) is dropped. */
  async function tick(): Promise<void> {
    const rooms = await store.rooms();
    if (!rooms.length) return;
    const all = await settings.many(rooms);
    for (const eventId of rooms) {
      const room = all.get(eventId) ?? null;
      if (!room || !settings.inForce(room)) {
        await store.drop(eventId);
        continue;
      }
      const at = now();
      const round = await store.admit(eventId, {
        now: at,
        salesStartAt: room.salesStartAt,
        perSecond: room.admitPerSecond,
        windowMs: deps.holdWindowMs,
        maxElapsedMs,
        numbersPerRound: NUMBERS_PER_ROUND,
        keepUntil: room.salesEndAt + KEEP_AFTER_SALE_MS,
      });
      if (round.admitted.length) deps.onAdmitted?.(round.admitted.length);
      if (round.lapsed.length) deps.onLapsed?.(round.lapsed.length);
      await tell(room, round, at);
      if (round.waiting === 0 && round.live === 0) await store.deactivate(eventId);
    }
  }

  return {
    tick,
    start(): void {
      const run = () => {
        ticking ??= tick()
          .catch((err: unknown) => deps.log.warn({ err }, 'waiting room round failed'))
          .finally(() => (ticking = null));
      };
      timer = setInterval(run, deps.tickMs);
      timer.unref();
    },
    async close(): Promise<void> {
      clearInterval(timer);
      await ticking;
    },
  };
}

export type Ticker = ReturnType<typeof createTicker>;
