// What a visitor is told about their place: the same body over HTTP (join, status) and Socket.IO
// (the watch acknowledgement and personal pushes). Positions follow from one number per visitor:
// position = number - admittedThrough, so a room-wide "admitted through N" message moves everyone.
import { z } from 'zod';
import type { RoomSettings } from './room-settings.ts';
import type { Standing } from './room-store.ts';

export const waitingRoomStateSchema = z.enum(['open', 'waiting', 'admitted', 'expired', 'none']);

export const waitingRoomStatusSchema = z.object({
  eventId: z.string(),
  /**
   * open: no waiting room in force (hold without a token); waiting: in line; admitted: hold now,
   * with the token, until expiresAt; expired: admitted but no hold within the window (join again,
   * at the back); none: not in this room.
   */
  state: waitingRoomStateSchema,
  /** 1 = next in line. Null until the lottery is drawn at the on-sale instant, and when not waiting. */
  position: z.number().int().nullable(),
  /** The visitor's place in line since the draw: position = number - admittedThrough. */
  number: z.number().int().nullable(),
  /** How many the room has admitted so far (grows; pushed as `queue` messages). */
  admittedThrough: z.number().int(),
  /** Visitors in line now. */
  waiting: z.number().int(),
  /** True until the draw: those who came before the on-sale instant are in a lottery, drawn at drawAt. */
  lottery: z.boolean(),
  /** The on-sale instant: the lottery is drawn and admissions begin. */
  drawAt: z.date(),
  admitPerSecond: z.number().int(),
  /** Position / rate, rounded up; 0 when admitted; null while the lottery is undrawn or when not waiting. */
  estimatedWaitSeconds: z.number().int().nullable(),
  /** Send it as the Admission-Token header of POST /purchases for this event. */
  admissionToken: z.string().nullable(),
  /** When the admission (and its token) ends. */
  expiresAt: z.date().nullable(),
});
export type WaitingRoomStatus = z.infer<typeof waitingRoomStatusSchema>;

export function openStatus(eventId: string, settings: RoomSettings | null): WaitingRoomStatus {
  return {
    eventId,
    state: 'open',
    position: null,
    number: null,
    admittedThrough: 0,
    waiting: 0,
    lottery: false,
    drawAt: new Date(settings?.salesStartAt ?? 0),
    admitPerSecond: settings?.admitPerSecond ?? 0,
    estimatedWaitSeconds: null,
    admissionToken: null,
    expiresAt: null,
  };
}

/** The body for one account's standing; `admissionToken` is given when it is admitted. */
export function presentStatus(settings: RoomSettings, standing: Standing, admissionToken: string | null = null): WaitingRoomStatus {
  const rate = settings.admitPerSecond;
  const base = {
    ...openStatus(settings.eventId, settings),
    state: standing.state,
    admittedThrough: standing.through,
    waiting: standing.waiting,
  };
  switch (standing.state) {
    case 'waiting': {
      if (!standing.drawn) return { ...base, lottery: true };
      const position = standing.rank + 1;
      return { ...base, position, number: standing.through + position, estimatedWaitSeconds: Math.ceil(position / rate) };
    }
    case 'admitted':
      return { ...base, estimatedWaitSeconds: 0, admissionToken, expiresAt: new Date(standing.expiresAt) };
    default:
      return base;
  }
}

