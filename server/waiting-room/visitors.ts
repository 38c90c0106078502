// A visitor's side of the waiting room: join (once per account), ask where they stand, and the
// gate a hold passes: for an event with a room in force, a valid admission token of this account
// for this event. Events without a room answer `open` and their holds pass as before.
import { AppError } from '../errors.ts';
import type { AdmissionTokens } from './admission-tokens.ts';
import type { RoomSettings, RoomSettingsReader } from './room-settings.ts';
import { LapseCode, type RoomStore, type Standing } from './room-store.ts';
import { openStatus, presentStatus, type WaitingRoomStatus } from './status.ts';

/** A room's keys outlive its event's sale by this much, then Redis forgets them by itself. */
export const KEEP_AFTER_SALE_MS = 24 * 3600 * 1000;

export interface VisitorDeps {
  store: RoomStore;
  settings: RoomSettingsReader;
  tokens: AdmissionTokens;
  /** The rooms' clock (epoch ms); tests drive it. */
  now: () => number;
  /** A lottery score in [0, LOTTERY_SPAN), for a visitor who comes before the draw. */
  lotteryScore: () => number;
  /** An admission lapsed without a hold (found by a join before an admission round did). */
  onLapsed?: () => void;
}

export function createVisitors(deps: VisitorDeps) {
  const { store, settings, tokens, now } = deps;

  /** The event's settings when its room is in force; null when it has none (open); 404/409 otherwise. */
  async function roomOf(eventId: string): Promise<{ settings: RoomSettings | null; inForce: boolean }> {
    const found = await settings.get(eventId);
    if (!found) throw new AppError('not_found', 'event not found');
    if (settings.inForce(found)) return { settings: found, inForce: true };
    if (found.status !== 'published' || now() >= found.salesEndAt) {
      throw new AppError('conflict', 'this event is not on sale', { reason: 'not_on_sale' });
    }
    return { settings: found, inForce: false };
  }

  /** The status body, with a freshly signed token when admitted (same expiry each time). */
  async function present(room: RoomSettings, accountId: string, standing: Standing): Promise<WaitingRoomStatus> {
    const token =
      standing.state === 'admitted' ? await tokens.sign({ accountId, eventId: room.eventId, expiresAt: standing.expiresAt }, now()) : null;
    return presentStatus(room, standing, token);
  }

  return {
    /** Joins the event's room (a second join keeps the first place) and answers where the account stands. */
    async join(eventId: string, accountId: string): Promise<WaitingRoomStatus> {
      const room = await roomOf(eventId);
      if (!room.inForce) return openStatus(eventId, room.settings);
      const s = room.settings!;
      const { standing, lapse } = await store.join(eventId, accountId, {
        now: now(),
        salesStartAt: s.salesStartAt,
        lotteryScore: deps.lotteryScore(),
        keepUntil: s.salesEndAt + KEEP_AFTER_SALE_MS,
      });
      if (lapse === LapseCode.withoutHold) deps.onLapsed?.();
      return present(s, accountId, standing);
    },

    async status(eventId: string, accountId: string): Promise<WaitingRoomStatus> {
      const room = await roomOf(eventId);
      if (!room.inForce) return openStatus(eventId, room.settings);
      return present(room.settings!, accountId, await store.status(eventId, accountId, now()));
    },

    /** The hold path's check (the purchases API calls it before pricing, before any hold). */
    gate: {
      /** Throws admission_required unless the event has no room or the token admits this account; true when it checked one. */
      async check(eventId: string, accountId: string, token: string | undefined): Promise<boolean> {
        const found = await settings.get(eventId);
        if (!settings.inForce(found)) return false;
        await tokens.verify(token, { accountId, eventId }, now());
        return true;
      },
      /** A hold was placed under an admission: the turn was used, not lost. */
      async used(eventId: string, accountId: string): Promise<void> {
        await store.markHeld(eventId, accountId);
      },
    },
  };
}

export type Visitors = ReturnType<typeof createVisitors>;
