// The purchase actor: reserve -> pay -> confirm, release on timeout, refund when it cannot issue.
// Pure and deterministic: no I/O, no clock, no timers. Every effect is an action with parameters
// that the host (server/purchases) writes to an outbox and runs; the effect reports back with the
// next event. Time arrives inside events (`hold.expired` carries `now`), so replaying the same
// events always gives the same states.
import { assertEvent, assign, setup } from 'xstate';

export interface PurchaseItem {
  ticketTypeId: string;
  quantity: number;
  /** Seated purchases name their seats; quantity then equals seatIds.length. */
  seatIds?: string[];
}

export interface PurchaseInput {
  purchaseId: string;
  eventId: string;
  customerId: string;
  items: PurchaseItem[];
  amountMinor: number;
  currency: string;
}

export interface PurchaseContext extends PurchaseInput {
  /** The live hold; null before it is placed and once it is released. */
  hold: { token: string; deadline: number } | null;
  /**
   * The token of the hold last released (absent in snapshots written before it existed). If money
   * comes late, the reclaim may find that hold's record still in Redis, its release on the way:
   * it replaces exactly that record, and adopts any other (a reclaim of its own, retried).
   */
  releasedToken?: string | null;
  /** What partial refunds gave back so far (a full refund returns the rest). */
  refundedMinor: number;
  paymentId: string | null;
  failure: string | null;
  /** Events that made no sense in the state they arrived in (ignored, never fatal). */
  ignoredEvents: number;
}

export type PurchaseEvent =
  | { type: 'hold.placed'; token: string; deadline: number }
  | { type: 'hold.rejected'; reason: string }
  | { type: 'hold.expired'; now: number }
  | { type: 'payment.started'; paymentId: string }
  | { type: 'payment.succeeded'; paymentId: string }
  | { type: 'payment.failed'; paymentId: string; reason: string }
  | { type: 'purchase.cancel' }
  | { type: 'tickets.issued' }
  | { type: 'tickets.failed'; reason: string }
  | { type: 'refund.succeeded' }
  /** An organizer or admin refunds tickets of a confirmed purchase: some (partial) or all (ticketIds null). */
  | { type: 'refund.requested'; ticketIds: string[] | null; amountMinor: number; requestId: string };

export type PurchaseEventType = PurchaseEvent['type'];

/** The effects a transition may ask for, by name, with the parameters the host needs. */
export interface PurchaseEffects {
  placeHold: { purchaseId: string; eventId: string; items: PurchaseItem[] };
  releaseHold: { purchaseId: string; eventId: string; holdToken: string };
  startPayment: { purchaseId: string; amountMinor: number; currency: string };
  cancelPayment: { purchaseId: string; paymentId: string };
  /**
   * holdToken '' means the hold was released before the money came: claim the units again first,
   * replacing the record of the released hold (releasedToken) if its release has not run yet.
   */
  issueTickets: { purchaseId: string; eventId: string; holdToken: string; items: PurchaseItem[]; releasedToken?: string };
  /** partial: the purchase stays confirmed (some tickets refunded); otherwise it ends refunded. */
  refund: { purchaseId: string; paymentId: string; amountMinor: number; currency: string; partial: boolean };
  /** Voids tickets (null: every valid one) and returns their units to sale. */
  revokeTickets: { purchaseId: string; eventId: string; ticketIds: string[] | null; requestId: string };
  notify: { purchaseId: string; customerId: string; kind: 'confirmed' | 'expired' | 'cancelled' | 'payment_failed' | 'refunded' | 'rejected' };
}
export type EffectName = keyof PurchaseEffects;
export const EFFECT_NAMES: readonly EffectName[] = ['placeHold', 'releaseHold', 'startPayment', 'cancelPayment', 'issueTickets', 'refund', 'revokeTickets', 'notify'];

/** States where the purchase is settled: nothing more happens unless money arrives late. */
export const SETTLED_STATES = ['confirmed', 'refunded', 'rejected', 'expired', 'cancelled', 'payment_failed'] as const;
export type PurchaseState =
  | 'reserving'
  | 'held'
  | 'paying'
  | 'confirming'
  | 'refunding'
  | (typeof SETTLED_STATES)[number];

// The host executes effects; inside the machine they are named, parameterised no-ops.
const effect =
  <K extends EffectName>() =>
  (_: unknown, _params: PurchaseEffects[K]) => {};

const holdToken = (context: PurchaseContext): string => context.hold?.token ?? '';

// Parameterised effects used on several transitions.
const release = {
  type: 'releaseHold' as const,
  params: ({ context }: { context: PurchaseContext }): PurchaseEffects['releaseHold'] => ({
    purchaseId: context.purchaseId,
    eventId: context.eventId,
    holdToken: holdToken(context),
  }),
};
const cancelOurPayment = {
  type: 'cancelPayment' as const,
  params: ({ context }: { context: PurchaseContext }): PurchaseEffects['cancelPayment'] => ({
    purchaseId: context.purchaseId,
    paymentId: context.paymentId ?? '',
  }),
};

export const purchaseMachine = setup({
  types: {
    context: {} as PurchaseContext,
    events: {} as PurchaseEvent,
    input: {} as PurchaseInput,
  },
  guards: {
    holdKept: ({ context }) => context.hold !== null,
    refundsAll: ({ event }) => {
      assertEvent(event, 'refund.requested');
      return event.ticketIds === null;
    },
    refundsPart: ({ context, event }) => {
      assertEvent(event, 'refund.requested');
      return event.ticketIds !== null && event.ticketIds.length > 0 && event.amountMinor > 0 && event.amountMinor < context.amountMinor - context.refundedMinor;
    },
    holdDeadlinePassed: ({ context, event }) => {
      assertEvent(event, 'hold.expired');
      return context.hold !== null && event.now >= context.hold.deadline;
    },
    isOurPayment: ({ context, event }) => {
      assertEvent(event, ['payment.failed']);
      return context.paymentId === null || context.paymentId === event.paymentId;
    },
  },
  actions: {
    placeHold: effect<'placeHold'>(),
    releaseHold: effect<'releaseHold'>(),
    startPayment: effect<'startPayment'>(),
    cancelPayment: effect<'cancelPayment'>(),
    issueTickets: effect<'issueTickets'>(),
    refund: effect<'refund'>(),
    revokeTickets: effect<'revokeTickets'>(),
    notify: effect<'notify'>(),
    forgetHold: assign(({ context }) => ({ hold: null, releasedToken: context.hold?.token ?? context.releasedToken ?? null })),
    countRefund: assign(({ context, event }) => {
      assertEvent(event, 'refund.requested');
      return { refundedMinor: context.refundedMinor + event.amountMinor };
    }),
    rememberHold: assign(({ event }) => {
      assertEvent(event, 'hold.placed');
      return { hold: { token: event.token, deadline: event.deadline } };
    }),
    rememberPayment: assign(({ event }) => {
      assertEvent(event, ['payment.started', 'payment.succeeded']);
      return { paymentId: event.paymentId };
    }),
    rememberFailure: assign(({ event }) => {
      assertEvent(event, ['hold.rejected', 'payment.failed', 'tickets.failed']);
      return { failure: event.reason };
    }),
    countIgnored: assign(({ context }) => ({ ignoredEvents: context.ignoredEvents + 1 })),
  },
}).createMachine({
  id: 'purchase',
  initial: 'reserving',
  context: ({ input }) => ({
    purchaseId: input.purchaseId,
    eventId: input.eventId,
    customerId: input.customerId,
    items: input.items,
    amountMinor: input.amountMinor,
    currency: input.currency,
    hold: null,
    refundedMinor: 0,
    paymentId: null,
    failure: null,
    ignoredEvents: 0,
  }),
  // Anything a state does not handle (or whose guard refuses it) lands here: counted, ignored.
  on: { '*': { actions: 'countIgnored' } },
  states: {
    reserving: {
      entry: { type: 'placeHold', params: ({ context }) => ({ purchaseId: context.purchaseId, eventId: context.eventId, items: context.items }) },
      on: {
        'hold.placed': { target: 'held', actions: 'rememberHold' },
        'hold.rejected': { target: 'rejected', actions: 'rememberFailure' },
      },
    },
    held: {
      entry: {
        type: 'startPayment',
        params: ({ context }) => ({ purchaseId: context.purchaseId, amountMinor: context.amountMinor, currency: context.currency }),
      },
      on: {
        'payment.started': { target: 'paying', actions: 'rememberPayment' },
        // A provider may report success before we saw the payment start.
        'payment.succeeded': { target: 'confirming', actions: 'rememberPayment' },
        'payment.failed': { target: 'payment_failed', guard: 'isOurPayment', actions: ['rememberFailure', release, 'forgetHold'] },
        'hold.expired': { target: 'expired', guard: 'holdDeadlinePassed', actions: [release, 'forgetHold'] },
        'purchase.cancel': { target: 'cancelled', actions: [release, 'forgetHold'] },
      },
    },
    paying: {
      on: {
        'payment.succeeded': { target: 'confirming', actions: 'rememberPayment' },
        'payment.failed': { target: 'payment_failed', guard: 'isOurPayment', actions: ['rememberFailure', release, 'forgetHold'] },
        'hold.expired': { target: 'expired', guard: 'holdDeadlinePassed', actions: [release, 'forgetHold', cancelOurPayment] },
        'purchase.cancel': { target: 'cancelled', actions: [release, 'forgetHold', cancelOurPayment] },
      },
    },
    confirming: {
      entry: {
        type: 'issueTickets',
        params: ({ context }) => ({
          purchaseId: context.purchaseId,
          eventId: context.eventId,
          holdToken: holdToken(context),
          items: context.items,
          ...(context.hold === null && context.releasedToken ? { releasedToken: context.releasedToken } : {}),
        }),
      },
      on: {
        'tickets.issued': 'confirmed',
        // Paid, but the seats are gone (e.g. the hold was lost): never oversell, give the money back.
        'tickets.failed': [
          { target: 'refunding', guard: 'holdKept', actions: ['rememberFailure', release, 'forgetHold'] },
          { target: 'refunding', actions: 'rememberFailure' },
        ],
      },
    },
    refunding: {
      entry: {
        type: 'refund',
        params: ({ context }) => ({
          purchaseId: context.purchaseId,
          paymentId: context.paymentId ?? '',
          amountMinor: context.amountMinor - context.refundedMinor,
          currency: context.currency,
          partial: false,
        }),
      },
      on: { 'refund.succeeded': 'refunded' },
    },
    confirmed: {
      entry: { type: 'notify', params: ({ context }) => notice(context, 'confirmed') },
      on: {
        // Every ticket back: void them all, refund what is left, end refunded.
        'refund.requested': [
          {
            target: 'refunding',
            guard: 'refundsAll',
            actions: {
              type: 'revokeTickets',
              params: ({ context, event }) => ({ purchaseId: context.purchaseId, eventId: context.eventId, ticketIds: null, requestId: event.requestId }),
            },
          },
          // Some tickets back: void those, refund their price, stay confirmed.
          {
            guard: 'refundsPart',
            actions: [
              {
                type: 'revokeTickets',
                params: ({ context, event }) => ({
                  purchaseId: context.purchaseId,
                  eventId: context.eventId,
                  ticketIds: event.ticketIds,
                  requestId: event.requestId,
                }),
              },
              {
                type: 'refund',
                params: ({ context, event }) => ({
                  purchaseId: context.purchaseId,
                  paymentId: context.paymentId ?? '',
                  amountMinor: event.amountMinor,
                  currency: context.currency,
                  partial: true,
                }),
              },
              'countRefund',
            ],
          },
        ],
      },
    },
    refunded: { type: 'final', entry: { type: 'notify', params: ({ context }) => notice(context, 'refunded') } },
    rejected: { type: 'final', entry: { type: 'notify', params: ({ context }) => notice(context, 'rejected') } },
    // Settled, but money can still arrive late. After an expiry (or a failure report followed by
    // success) the tickets are issued if the units can be claimed again, and refunded if not;
    // after the buyer cancelled it is refunded. Every succeeded payment ends in tickets or a refund.
    expired: {
      entry: { type: 'notify', params: ({ context }) => notice(context, 'expired') },
      on: { 'payment.succeeded': { target: 'confirming', actions: 'rememberPayment' } },
    },
    cancelled: {
      entry: { type: 'notify', params: ({ context }) => notice(context, 'cancelled') },
      on: { 'payment.succeeded': { target: 'refunding', actions: 'rememberPayment' } },
    },
    payment_failed: {
      entry: { type: 'notify', params: ({ context }) => notice(context, 'payment_failed') },
      on: { 'payment.succeeded': { target: 'confirming', actions: 'rememberPayment' } },
    },
  },
});

function notice(context: PurchaseContext, kind: PurchaseEffects['notify']['kind']): PurchaseEffects['notify'] {
  return { purchaseId: context.purchaseId, customerId: context.customerId, kind };
}

export type PurchaseMachine = typeof purchaseMachine;
