// The waiting room over Socket.IO, on the live connection (signed in with the access token in the
// handshake, as for a buyer's purchase updates). `watchQueue` answers the visitor's status and
// subscribes them to their room's `queue` messages (the line moved) and to their own `queueStatus`
// messages (a number after the draw, the admission with its token, a lost turn). Rooms are shared
// across nodes by the live adapter, so any node's round reaches every visitor.
import type { Server, Socket } from 'socket.io';
import { z } from 'zod';
import type { Logger } from '../observability/index.ts';
import type { Pushes } from './ticker.ts';
import type { WaitingRoomStatus } from './status.ts';
import { messageBudget } from '../live/message-budget.ts';

const watchSchema = z.object({ eventId: z.guid() }).strict();
/** Rooms one socket may watch at once. */
const MAX_ROOMS_PER_SOCKET = 10;
/** Per socket: a burst of this many waiting-room messages, refilled at this many per second. */
const MESSAGE_BURST = 10;
const MESSAGES_PER_SECOND = 2;

const lineRoom = (eventId: string) => `queue:${eventId}`;
const visitorRoom = (eventId: string, accountId: string) => `queue:${eventId}:${accountId}`;

type Ack = (body: unknown) => void;
const refusal = (code: string, message: string) => ({ error: { code, message } });

export interface WaitingRoomSocketDeps {
  status: (eventId: string, accountId: string) => Promise<WaitingRoomStatus>;
  log: Logger;
}

/** Registers the handlers on every new connection; returns where admission rounds push to. */
export function attachWaitingRoomSocket(io: Server, deps: WaitingRoomSocketDeps): Pushes {
  io.on('connection', (socket: Socket) => {
    const allow = messageBudget(MESSAGE_BURST, MESSAGES_PER_SECOND);
    const accountId = () => (socket.data as { userId?: string }).userId;

    socket.on('watchQueue', (payload: unknown, ack?: unknown) => {
      const reply: Ack = typeof ack === 'function' ? (ack as Ack) : (body) => socket.emit('queueStatus', body);
      if (!allow()) return reply(refusal('rate_limited', 'too many waiting room messages; slow down'));
      const parsed = watchSchema.safeParse(payload);
      if (!parsed.success) return reply(refusal('validation_failed', 'watchQueue needs { eventId }'));
      const who = accountId();
      if (!who) return reply(refusal('unauthorized', 'sign in (auth: { token } in the handshake) to wait in line'));
      const { eventId } = parsed.data;
      const watching = [...socket.rooms].filter((r) => r.startsWith('queue:') && r.split(':').length === 2);
      if (!socket.rooms.has(lineRoom(eventId)) && watching.length >= MAX_ROOMS_PER_SOCKET) {
        return reply(refusal('conflict', `watch at most ${MAX_ROOMS_PER_SOCKET} waiting rooms at once`));
      }
      deps
        .status(eventId, who)
        .then(async (status) => {
          await socket.join([lineRoom(eventId), visitorRoom(eventId, who)]);
          reply(status);
        })
        .catch((err: unknown) => {
          const code = (err as { code?: unknown }).code;
          if (typeof code === 'string' && ['not_found', 'conflict'].includes(code)) return reply(refusal(code, (err as Error).message));
          deps.log.warn({ err, eventId }, 'waiting room status failed');
          reply(refusal('service_unavailable', 'try again'));
        });
    });

    socket.on('unwatchQueue', (payload: unknown) => {
      if (!allow()) return;
      const parsed = watchSchema.safeParse(payload);
      const who = accountId();
      if (parsed.success && who) void Promise.all([socket.leave(lineRoom(parsed.data.eventId)), socket.leave(visitorRoom(parsed.data.eventId, who))]);
    });
  });

  return {
    lineMoved: (update) => void io.to(lineRoom(update.eventId)).emit('queue', update),
    visitor: (accountId, status) => void io.to(visitorRoom(status.eventId, accountId)).emit('queueStatus', status),
  };
}
