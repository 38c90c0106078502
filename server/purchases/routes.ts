// The purchases API: create (with a required Idempotency-Key), look, cancel, and read the
// transition log. A buyer sees their own purchases; the event's organizer and admins see all.
import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { PersistedPurchase, PurchaseState } from '../../machines/index.ts';
import { AppError } from '../errors.ts';
import { requireUser } from '../http/policy.ts';
import type { App } from '../http/types.ts';
import type { Inventory } from '../inventory/index.ts';
import type { Payments } from '../payments/index.ts';
import type { Sql } from '../store/index.ts';
import type { AdmissionGate } from './admission-port.ts';
import { breakdown, checkoutGuard, priceOrder, purchaseRequestSchema, requestHash, type PriceBreakdown, type PurchaseRequest } from './checkout.ts';
import type { PurchaseHost } from './host.ts';

export interface PurchaseRouteDeps {
  sql: Sql;
  host: PurchaseHost;
  inventory: Inventory;
  payments: Pick<Payments, 'paymentOf'>;
  stripePublishableKey: string | null;
  maxTicketsPerCustomerPerEvent: number;
  /** Events with a waiting room: holds need an admission token (absent: no event has a room). */
  admission?: AdmissionGate;
  /** A hold refused before any purchase was written (Redis already said no); metrics. */
  onRefusedEarly?: (reason: 'sold_out' | 'seat_taken') => void;
}

const purchaseSchema = z.object({
  id: z.string(),
  eventId: z.string(),
  state: z.string(),
  items: z.array(z.object({ ticketTypeId: z.string(), quantity: z.number(), seatIds: z.array(z.string()).optional() })),
  amountMinor: z.number(),
  currency: z.string(),
  holdExpiresAt: z.date().nullable(),
  payment: z
    .object({
      provider: z.string(),
      paymentId: z.string(),
      status: z.string(),
      clientSecret: z.string().nullable(),
      redirectUrl: z.string().nullable(),
      /** Stripe: the publishable key for Stripe Elements on the buyer's page. */
      publishableKey: z.string().nullable(),
    })
    .nullable(),
  price: z.object({
    lines: z.array(
      z.object({
        ticketTypeId: z.string(),
        name: z.string(),
        quantity: z.number(),
        seatIds: z.array(z.string()).optional(),
        unitPriceMinor: z.number(),
        lineTotalMinor: z.number(),
      }),
    ),
    subtotalMinor: z.number(),
    discountMinor: z.number(),
    promoCode: z.string().nullable(),
    totalMinor: z.number(),
    currency: z.string(),
  }),
  failure: z.string().nullable(),
  createdAt: z.date(),
});
const transitionSchema = z.object({ seq: z.number(), from: z.string().nullable(), to: z.string(), event: z.string(), at: z.date() });

interface PurchaseRow {
  id: string;
  event_id: string;
  customer_id: string;
  organizer_id: string;
  state: PurchaseState;
  snapshot: PersistedPurchase;
  amount_minor: number;
  currency: string;
  hold_deadline: Date | null;
  pricing: PriceBreakdown;
  created_at: Date;
}

export function purchaseRoutes(deps: PurchaseRouteDeps) {
  const { sql } = deps;

  async function load(id: string): Promise<PurchaseRow> {
    const [row] = await sql<PurchaseRow[]>`
      select p.id, p.event_id, p.customer_id, e.organizer_id, p.state, p.snapshot, p.amount_minor, p.currency, p.hold_deadline, p.pricing, p.created_at
      from purchases p join events e on e.id = p.event_id where p.id = ${id}`;
    if (!row) throw new AppError('not_found', 'purchase not found');
    return row;
  }

  /** The buyer, the event's organizer, or an admin; anyone else gets 404 (ids are not confirmed). */
  async function visible(request: FastifyRequest, id: string, ownerOnly = false): Promise<PurchaseRow> {
    const user = requireUser(request);
    const row = await load(id);
    const allowed = row.customer_id === user.userId || (!ownerOnly && (user.role === 'admin' || row.organizer_id === user.userId));
    if (!allowed) throw new AppError('not_found', 'purchase not found');
    return row;
  }

  async function present(row: PurchaseRow) {
    const context = row.snapshot.context;
    const payment = context.paymentId ? await deps.payments.paymentOf(row.id) : null;
    return {
      id: row.id,
      eventId: row.event_id,
      state: row.state,
      items: context.items,
      amountMinor: row.amount_minor,
      currency: row.currency,
      holdExpiresAt: row.hold_deadline,
      payment: payment
        ? {
            provider: payment.provider,
            paymentId: payment.id,
            status: payment.status,
            // What the buyer's page needs, only while there is something to pay.
            clientSecret: payment.status === 'pending' ? payment.clientSecret : null,
            redirectUrl: payment.status === 'pending' ? payment.redirectUrl : null,
            publishableKey: payment.provider === 'stripe' ? deps.stripePublishableKey : null,
          }
        : null,
      price: row.pricing,
      failure: context.failure,
      createdAt: row.created_at,
    };
  }

  async function history(id: string) {
    return sql<z.infer<typeof transitionSchema>[]>`
      select seq, from_state as "from", to_state as "to", event_type as event, at
      from purchase_transitions where purchase_id = ${id} order by seq`;
  }

  /**
   * The spike's fast "no": when Redis already says a ticket type is short or a seat is taken, answer
   * 409 without writing a purchase. Only a refusal is decided here; a "yes" is the hold script's.
   */
  async function refuseEarly(eventId: string, items: readonly { ticketTypeId: string; quantity: number; seatIds?: string[] }[]) {
    const counts = await deps.inventory.available(eventId, items.map((i) => i.ticketTypeId));
    const short = items.find((i) => {
      const left = counts[i.ticketTypeId];
      return left !== null && left !== undefined && left < i.quantity;
    });
    if (short) {
      deps.onRefusedEarly?.('sold_out');
      throw new AppError('conflict', 'not enough tickets left', { reason: 'sold_out', ticketTypeId: short.ticketTypeId });
    }
    const seatIds = items.flatMap((i) => i.seatIds ?? []);
    const owners = await deps.inventory.seatOwners(eventId, seatIds);
    const taken = owners.findIndex((o) => o !== null);
    if (taken >= 0) {
      deps.onRefusedEarly?.('seat_taken');
      throw new AppError('conflict', 'a seat you asked for is taken', { reason: 'seat_taken', seatId: seatIds[taken] });
    }
  }

  async function create(customerId: string, body: PurchaseRequest, idempotencyKey: string) {
    const order = await priceOrder(sql, body);
    await refuseEarly(body.eventId, order.items);
    return deps.host.start(
      {
        purchaseId: randomUUID(),
        eventId: body.eventId,
        customerId,
        items: order.items,
        amountMinor: order.amountMinor,
        currency: order.currency,
        idempotencyKey,
        requestHash: requestHash(body),
        promoCodeId: order.promo?.id ?? null,
        pricing: breakdown(order),
      },
      checkoutGuard(customerId, body.eventId, order, deps.maxTicketsPerCustomerPerEvent),
    );
  }

  return (api: App) => {
    const tags = ['purchases'];
    const params = z.object({ purchaseId: z.guid() });

    api.post(
      '/purchases',
      {
        config: { policy: 'user' },
        preHandler: api.routeLimits.purchases,
        schema: {
          tags,
          summary: 'Hold tickets or seats and start paying (Idempotency-Key required)',
          headers: z.object({
            'idempotency-key': z.string().trim().min(8).max(200),
            /** Events with a waiting room: the token it gave this account. */
            'admission-token': z.string().trim().max(4096).optional(),
          }),
          body: purchaseRequestSchema,
          response: { 200: purchaseSchema, 201: purchaseSchema },
        },
      },
      async (request, reply) => {
        const user = requireUser(request);
        const key = request.headers['idempotency-key'];
        // A retried request answers from what it created, even if the sale has moved on since.
        const [earlier] = await sql<{ id: string; request_hash: string }[]>`
          select id, request_hash from purchases where customer_id = ${user.userId} and idempotency_key = ${key}`;
        if (earlier && earlier.request_hash !== requestHash(request.body)) {
          throw new AppError('unprocessable', 'this Idempotency-Key was used with a different request');
        }
        // A waiting room's gate comes first: before pricing, before any hold (a retry of a purchase
        // already made is answered as before, even after the admission ended).
        const admitted = earlier ? false : ((await deps.admission?.check(request.body.eventId, user.userId, request.headers['admission-token'])) ?? false);
        // A retry carries on what its first try left undone (that try may have failed halfway).
        const view = earlier ? { id: (await deps.host.resume(earlier.id)).id, existing: true } : await create(user.userId, request.body, key);
        const row = await load(view.id);
        if (row.state === 'rejected') {
          const reason = row.snapshot.context.failure ?? 'unavailable';
          throw new AppError('conflict', reason === 'seat_taken' ? 'a seat you asked for is taken' : 'not enough tickets left', {
            reason,
            purchaseId: row.id,
          });
        }
        if (admitted && !view.existing) await deps.admission?.used(row.event_id, user.userId);
        if (row.state === 'reserving' || row.state === 'held') {
          // Its hold or its payment could not be set up just now (a store or the provider away): the
          // purchase exists and a retry with the same key carries on from where this one stopped.
          throw new AppError('service_unavailable', 'the purchase is not ready yet; retry with the same Idempotency-Key', {
            purchaseId: row.id,
            retryAfterSeconds: 1,
          });
        }
        return reply.code(view.existing ? 200 : 201).send(await present(row));
      },
    );

    api.get(
      '/purchases/:purchaseId',
      {
        config: { policy: 'user' },
        schema: {
          tags,
          summary: 'A purchase with its history and its tickets (codes for the QR)',
          params,
          response: {
            200: purchaseSchema.extend({
              history: z.array(transitionSchema),
              tickets: z.array(z.object({ id: z.string(), code: z.string(), ticketTypeId: z.string(), seatId: z.string().nullable(), status: z.string() })),
            }),
          },
        },
      },
      async (request) => {
        const row = await visible(request, request.params.purchaseId);
        const tickets = await sql<{ id: string; code: string; ticketTypeId: string; seatId: string | null; status: string }[]>`
          select id, code, ticket_type_id as "ticketTypeId", seat_id::text as "seatId", status from tickets where purchase_id = ${row.id} order by issued_at, id`;
        return { ...(await present(row)), history: await history(row.id), tickets };
      },
    );

    api.post(
      '/purchases/:purchaseId/cancel',
      { config: { policy: 'user' }, schema: { tags, summary: 'Cancel before paying; the hold is released at once', params, response: { 200: purchaseSchema } } },
      async (request) => {
        const row = await visible(request, request.params.purchaseId, true);
        if (['confirming', 'confirmed', 'refunding', 'refunded'].includes(row.state)) {
          throw new AppError('conflict', 'a paid purchase cannot be cancelled; ask for a refund', { state: row.state });
        }
        if (row.state !== 'cancelled') await deps.host.deliver(row.id, { type: 'purchase.cancel' });
        const after = await load(row.id);
        if (after.state !== 'cancelled') throw new AppError('conflict', `a ${after.state} purchase cannot be cancelled`, { state: after.state });
        return await present(after);
      },
    );

    api.get(
      '/purchases/:purchaseId/transitions',
      {
        config: { policy: 'user' },
        schema: { tags, summary: 'Every transition of a purchase, in order', params, response: { 200: z.object({ items: z.array(transitionSchema) }) } },
      },
      async (request) => {
        const row = await visible(request, request.params.purchaseId);
        return { items: await history(row.id) };
      },
    );
  };
}
