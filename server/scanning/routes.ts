// What the organizer sees of the doors: admissions per device, and tickets admitted at two doors
// while one was offline (the earlier scan kept, the later one listed here).
import { z } from 'zod';
import { ownedEvent } from '../catalog/events.ts';
import { requireUser } from '../http/policy.ts';
import type { App } from '../http/types.ts';
import type { Sql } from '../store/index.ts';
import { doorCounts } from './door-counts.ts';

export function scanningRoutes(sql: Sql) {
  return (api: App) => {
    const params = z.object({ eventId: z.guid() });
    const tags = ['scanning'];
    const actor = (request: Parameters<typeof requireUser>[0]) => {
      const user = requireUser(request);
      return { userId: user.userId, role: user.role };
    };

    api.get(
      '/organizer/events/:eventId/door-counts',
      {
        config: { policy: 'organizer' },
        schema: {
          tags,
          summary: 'How many are in: admitted tickets, per device',
          params,
          response: {
            200: z.object({ admitted: z.number(), devices: z.array(z.object({ deviceId: z.string(), name: z.string(), admitted: z.number() })) }),
          },
        },
      },
      async (request) => {
        await ownedEvent(sql, request.params.eventId, actor(request));
        const { admitted, devices } = await doorCounts(sql, request.params.eventId);
        return { admitted, devices };
      },
    );

    api.get(
      '/organizer/events/:eventId/scan-conflicts',
      {
        config: { policy: 'organizer' },
        schema: {
          tags,
          summary: 'Tickets admitted at two doors (one offline): which scan was kept, which was not',
          params,
          response: {
            200: z.object({
              items: z.array(
                z.object({
                  ticketId: z.string(),
                  kept: z.object({ deviceId: z.string(), name: z.string(), at: z.date() }),
                  other: z.object({ deviceId: z.string(), name: z.string(), at: z.date() }),
                  recordedAt: z.date(),
                }),
              ),
            }),
          },
        },
      },
      async (request) => {
        await ownedEvent(sql, request.params.eventId, actor(request));
        const rows = await sql<{ ticket_id: string; kept_device: string; kept_name: string; kept_at: Date; other_device: string; other_name: string; other_at: Date; recorded_at: Date }[]>`
          select c.ticket_id, c.kept_device, k.name as kept_name, c.kept_at, c.other_device, o.name as other_name, c.other_at, c.recorded_at
          from scan_conflicts c join scanner_devices k on k.id = c.kept_device join scanner_devices o on o.id = c.other_device
          where c.event_id = ${request.params.eventId} order by c.recorded_at desc limit 500`;
        return {
          items: rows.map((r) => ({
            ticketId: r.ticket_id,
            kept: { deviceId: r.kept_device, name: r.kept_name, at: r.kept_at },
            other: { deviceId: r.other_device, name: r.other_name, at: r.other_at },
            recordedAt: r.recorded_at,
          })),
        };
      },
    );
  };
}
