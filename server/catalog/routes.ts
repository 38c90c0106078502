// The catalog's HTTP face: organizers manage their own events (/organizer/events/...), buyers
// browse published ones (/events/...), admins list organizers (/admin/organizers/...).
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AppError } from '../errors.ts';
import { etagged } from '../http/etag.ts';
import { requireUser } from '../http/policy.ts';
import type { App } from '../http/types.ts';
import type { Sql } from '../store/index.ts';
import { eventColumns, type Actor, type Events } from './events.ts';
import type { PromoCodes } from './promo-codes.ts';
import { listOrganizers, type PublicCatalog } from './public.ts';
import {
  createEventSchema,
  eventSchema,
  idSchema,
  promoCodeInputSchema,
  promoCodeSchema,
  seatMapSchema,
  ticketTypeInputSchema,
  ticketTypeSchema,
  ticketTypeUpdateSchema,
  updateEventSchema,
  type CatalogEvent,
} from './schemas.ts';
import type { SeatMaps } from './seat-map.ts';
import type { TicketTypes } from './ticket-types.ts';

export interface CatalogRouteDeps {
  sql: Sql;
  events: Events;
  ticketTypes: TicketTypes;
  seatMaps: SeatMaps;
  promoCodes: PromoCodes;
  publicCatalog: PublicCatalog;
}

const SEAT_MAP_BODY_LIMIT = 16 * 1024 * 1024;

function actorOf(request: FastifyRequest): Actor {
  const user = requireUser(request);
  return { userId: user.userId, role: user.role, requestId: request.id };
}

export function catalogRoutes(deps: CatalogRouteDeps) {
  return (api: App) => {
    const organizer = { config: { policy: 'organizer' as const } };
    const tags = ['catalog'];
    const eventParams = z.object({ eventId: idSchema });
    const typeParams = eventParams.extend({ ticketTypeId: idSchema });
    const eventWithTypes = eventSchema.extend({ ticketTypes: z.array(ticketTypeSchema) });

    // Organizer: events

    api.post(
      '/organizer/events',
      { ...organizer, schema: { tags, summary: 'Create a draft event', body: createEventSchema, response: { 201: eventSchema } } },
      async (request, reply) => reply.code(201).send(await deps.events.create(actorOf(request), request.body)),
    );

    api.get(
      '/organizer/events',
      {
        ...organizer,
        schema: {
          tags,
          summary: 'My events, newest first',
          querystring: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }),
          response: { 200: z.object({ items: z.array(eventSchema) }) },
        },
      },
      async (request) => ({ items: await deps.events.listOwn(actorOf(request), request.query.limit) }),
    );

    api.get(
      '/organizer/events/:eventId',
      { ...organizer, schema: { tags, summary: 'One of my events, with its ticket types', params: eventParams, response: { 200: eventWithTypes } } },
      async (request) => {
        const event = await deps.events.get(actorOf(request), request.params.eventId);
        return { ...event, ticketTypes: await deps.ticketTypes.list(event.id) };
      },
    );

    api.patch(
      '/organizer/events/:eventId',
      { ...organizer, schema: { tags, summary: 'Change an event', params: eventParams, body: updateEventSchema, response: { 200: eventSchema } } },
      async (request) => deps.events.update(actorOf(request), request.params.eventId, request.body),
    );

    api.post(
      '/organizer/events/:eventId/publish',
      { ...organizer, schema: { tags, summary: 'Publish a draft event (it needs ticket types)', params: eventParams, response: { 200: eventSchema } } },
      async (request) => deps.events.publish(actorOf(request), request.params.eventId),
    );

    api.post(
      '/organizer/events/:eventId/cancel',
      {
        ...organizer,
        schema: {
          tags,
          summary: 'Cancel an event: sales stop at once; its purchases are refunded',
          params: eventParams,
          body: z.object({ reason: z.string().trim().max(2000).optional() }).default({}),
          response: { 200: eventSchema },
        },
      },
      async (request) => deps.events.cancel(actorOf(request), request.params.eventId, request.body.reason ?? null),
    );

    // Organizer: ticket types

    api.post(
      '/organizer/events/:eventId/ticket-types',
      {
        ...organizer,
        schema: { tags, summary: 'Add a ticket type', params: eventParams, body: ticketTypeInputSchema, response: { 201: ticketTypeSchema } },
      },
      async (request, reply) => reply.code(201).send(await deps.ticketTypes.create(actorOf(request), request.params.eventId, request.body)),
    );

    api.patch(
      '/organizer/events/:eventId/ticket-types/:ticketTypeId',
      {
        ...organizer,
        schema: {
          tags,
          summary: 'Change a ticket type (capacity never below what is sold or held)',
          params: typeParams,
          body: ticketTypeUpdateSchema,
          response: { 200: ticketTypeSchema },
        },
      },
      async (request) => deps.ticketTypes.update(actorOf(request), request.params.eventId, request.params.ticketTypeId, request.body),
    );

    for (const [action, status] of [
      ['close', 'closed'],
      ['reopen', 'on_sale'],
    ] as const) {
      api.post(
        `/organizer/events/:eventId/ticket-types/:ticketTypeId/${action}`,
        { ...organizer, schema: { tags, summary: `${action === 'close' ? 'Stop' : 'Resume'} sales of a ticket type`, params: typeParams, response: { 200: ticketTypeSchema } } },
        async (request) => deps.ticketTypes.setStatus(actorOf(request), request.params.eventId, request.params.ticketTypeId, status),
      );
    }

    api.delete(
      '/organizer/events/:eventId/ticket-types/:ticketTypeId',
      { ...organizer, schema: { tags, summary: 'Delete a ticket type that has no sales (close it otherwise)', params: typeParams, response: { 204: z.null() } } },
      async (request, reply) => {
        await deps.ticketTypes.remove(actorOf(request), request.params.eventId, request.params.ticketTypeId);
        return reply.code(204).send(null);
      },
    );

    // Organizer: seat map and promo codes

    api.put(
      '/organizer/events/:eventId/seat-map',
      {
        ...organizer,
        bodyLimit: SEAT_MAP_BODY_LIMIT,
        schema: {
          tags,
          summary: 'Import (replace) the seat map: up to 100,000 seats, all or nothing (format: docs/seat-map-format.md)',
          params: eventParams,
          body: seatMapSchema,
          response: { 200: z.object({ seats: z.number(), sections: z.number(), seatsByTicketType: z.record(z.string(), z.number()) }) },
        },
      },
      async (request) => deps.seatMaps.import(actorOf(request), request.params.eventId, request.body),
    );

    api.post(
      '/organizer/events/:eventId/promo-codes',
      { ...organizer, schema: { tags, summary: 'Create a promo code', params: eventParams, body: promoCodeInputSchema, response: { 201: promoCodeSchema } } },
      async (request, reply) => reply.code(201).send(await deps.promoCodes.create(actorOf(request), request.params.eventId, request.body)),
    );

    api.get(
      '/organizer/events/:eventId/promo-codes',
      { ...organizer, schema: { tags, summary: "An event's promo codes", params: eventParams, response: { 200: z.object({ items: z.array(promoCodeSchema) }) } } },
      async (request) => {
        const event = await deps.events.get(actorOf(request), request.params.eventId);
        return { items: await deps.promoCodes.list(event.id) };
      },
    );

    api.delete(
      '/organizer/events/:eventId/promo-codes/:promoCodeId',
      {
        ...organizer,
        schema: { tags, summary: 'Delete a promo code that was never used', params: eventParams.extend({ promoCodeId: idSchema }), response: { 204: z.null() } },
      },
      async (request, reply) => {
        await deps.promoCodes.remove(actorOf(request), request.params.eventId, request.params.promoCodeId);
        return reply.code(204).send(null);
      },
    );

    // Public

    const cached = etagged(5);
    api.get(
      '/events',
      {
        config: { policy: 'public' },
        onSend: cached,
        schema: {
          tags: ['browse'],
          summary: 'Published events, soonest first (cursor pages; date filter; text search)',
          querystring: z.object({
            from: z.coerce.date().optional(),
            to: z.coerce.date().optional(),
            q: z.string().trim().min(1).max(100).optional(),
            cursor: z.string().max(200).optional(),
            limit: z.coerce.number().int().min(1).max(100).default(20),
          }),
          response: { 200: z.object({ items: z.array(eventSchema), nextCursor: z.string().nullable() }) },
        },
      },
      async (request) => deps.publicCatalog.list(request.query),
    );

    api.get(
      '/events/:idOrSlug',
      {
        config: { policy: 'public' },
        onSend: cached,
        schema: {
          tags: ['browse'],
          summary: 'An event with its ticket types, prices and current availability',
          params: z.object({ idOrSlug: z.string().min(1).max(80) }),
          response: {
            200: eventSchema.extend({ ticketTypes: z.array(ticketTypeSchema.extend({ available: z.number(), onSaleNow: z.boolean() })) }),
          },
        },
      },
      async (request) => {
        const event = await deps.publicCatalog.detail(request.params.idOrSlug);
        if (!event) throw new AppError('not_found', 'event not found');
        return event;
      },
    );

    api.get(
      '/events/:eventId/seat-map',
      {
        config: { policy: 'public' },
        onSend: cached,
        // 100,000 seats: serialise directly instead of validating every tuple on the way out.
        serializerCompiler: () => (data) => JSON.stringify(data),
        schema: {
          tags: ['browse'],
          summary: 'The seat map with each seat as [seatId, number, ticketTypeIndex, state]; state indexes stateCodes',
          params: eventParams,
        },
      },
      async (request) => {
        const map = await deps.seatMaps.read(request.params.eventId, { publicOnly: true });
        if (!map) throw new AppError('not_found', 'event not found');
        return map;
      },
    );

    // Admin

    api.get(
      '/admin/organizers',
      {
        config: { policy: 'admin' },
        schema: {
          tags: ['admin'],
          summary: 'Organizers with their event counts',
          querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) }),
          response: {
            200: z.object({
              items: z.array(
                z.object({ id: z.string(), email: z.string(), displayName: z.string().nullable(), events: z.number(), publishedEvents: z.number(), createdAt: z.date() }),
              ),
            }),
          },
        },
      },
      async (request) => ({ items: await listOrganizers(deps.sql, request.query.limit) }),
    );

    api.get(
      '/admin/organizers/:userId/events',
      {
        config: { policy: 'admin' },
        schema: { tags: ['admin'], summary: "An organizer's events", params: z.object({ userId: idSchema }), response: { 200: z.object({ items: z.array(eventSchema) }) } },
      },
      async (request) => ({
        items: await deps.sql<CatalogEvent[]>`
          select ${eventColumns(deps.sql)} from events e where e.organizer_id = ${request.params.userId} order by e.starts_at desc`,
      }),
    );
  };
}
