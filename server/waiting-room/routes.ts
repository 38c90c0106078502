// The waiting room over HTTP: join an event's room, or ask where you stand. Signed-in accounts
// only (one place per account), limited per account. Events without a room answer `open`.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { requireUser } from '../http/policy.ts';
import { createLimiter } from '../http/rate-limits.ts';
import type { App } from '../http/types.ts';
import { waitingRoomStatusSchema } from './status.ts';
import type { Visitors } from './visitors.ts';

export interface WaitingRoomRouteDeps {
  visitors: Pick<Visitors, 'join' | 'status'>;
  perUserPerMinute: number;
}

export function waitingRoomRoutes(deps: WaitingRoomRouteDeps) {
  return (api: App) => {
    const limiter = createLimiter(api, 'waiting-room', deps.perUserPerMinute, 60_000);
    const limited = async (request: FastifyRequest, reply: FastifyReply) => {
      const p = request.principal;
      await limiter.enforce(request, reply, p.kind === 'user' ? `user:${p.userId}` : `ip:${request.ip}`);
    };
    const tags = ['waiting-room'];
    const params = z.object({ eventId: z.guid() });

    api.post(
      '/events/:eventId/waiting-room',
      {
        config: { policy: 'user' },
        preHandler: limited,
        schema: {
          tags,
          summary: 'Join the waiting room of an event (once per account; a second join keeps your place)',
          params,
          response: { 200: waitingRoomStatusSchema },
        },
      },
      async (request) => deps.visitors.join(request.params.eventId, requireUser(request).userId),
    );

    api.get(
      '/events/:eventId/waiting-room',
      {
        config: { policy: 'user' },
        preHandler: limited,
        schema: {
          tags,
          summary: 'Where you stand in the waiting room: position, estimated wait, and the admission token once admitted',
          params,
          response: { 200: waitingRoomStatusSchema },
        },
      },
      async (request) => deps.visitors.status(request.params.eventId, requireUser(request).userId),
    );
  };
}
