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
  hold: { token: string; deadline: number } | null;
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
  | { type: 'refund.succeeded' };

export type PurchaseEventType = PurchaseEvent['type'];

/** The effects a transition may ask for, by name, with the parameters the host needs. */
export interface PurchaseEffects {
  placeHold: { purchaseId: string; eventId: string; items: PurchaseItem[] };
  releaseHold: { purchaseId: string; eventId: string; holdToken: string };
  startPayment: { purchaseId: string; amountMinor: number; currency: string };
  cancelPayment: { purchaseId: string; paymentId: string };
  issueTickets: { purchaseId: string; eventId: string; holdToken: string; items: PurchaseItem[] };
  refund: { purchaseId: string; paymentId: string; amountMinor: number; currency: string };
  notify: { purchaseId: string; customerId: string; kind: 'confirmed' | 'expired' | 'cancelled' | 'payment_failed' | 'refunded' | 'rejected' };
}
export type EffectName = keyof PurchaseEffects;
export const EFFECT_NAMES: readonly EffectName[] = ['placeHold', 'releaseHold', 'startPayment', 'cancelPayment', 'issueTickets', 'refund', 'notify'];

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
    notify: effect<'notify'>(),
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
        'payment.failed': { target: 'payment_failed', guard: 'isOurPayment', actions: ['rememberFailure', release] },
        'hold.expired': { target: 'expired', guard: 'holdDeadlinePassed', actions: release },
        'purchase.cancel': { target: 'cancelled', actions: release },
      },
    },
    paying: {
      on: {
        'payment.succeeded': { target: 'confirming', actions: 'rememberPayment' },
        'payment.failed': { target: 'payment_failed', guard: 'isOurPayment', actions: ['rememberFailure', release] },
        'hold.expired': { target: 'expired', guard: 'holdDeadlinePassed', actions: [release, cancelOurPayment] },
        'purchase.cancel': { target: 'cancelled', actions: [release, cancelOurPayment] },
      },
    },
    confirming: {
      entry: {
        type: 'issueTickets',
        params: ({ context }) => ({ purchaseId: context.purchaseId, eventId: context.eventId, holdToken: holdToken(context), items: context.items }),
      },
      on: {
        'tickets.issued': 'confirmed',
        // Paid, but the seats are gone (e.g. the hold was lost): never oversell, give the money back.
        'tickets.failed': { target: 'refunding', actions: ['rememberFailure', release] },
      },
    },
    refunding: {
      entry: {
        type: 'refund',
        params: ({ context }) => ({
          purchaseId: context.purchaseId,
          paymentId: context.paymentId ?? '',
          amountMinor: context.amountMinor,
          currency: context.currency,
        }),
      },
      on: { 'refund.succeeded': 'refunded' },
    },
    confirmed: { type: 'final', entry: { type: 'notify', params: ({ context }) => notice(context, 'confirmed') } },
    refunded: { type: 'final', entry: { type: 'notify', params: ({ context }) => notice(context, 'refunded') } },
    rejected: { type: 'final', entry: { type: 'notify', params: ({ context }) => notice(context, 'rejected') } },
    // Settled, but money can still arrive late (a payment that completes after expiry or
    // cancellation): it is refunded, so every succeeded payment ends in tickets or a refund.
    expired: {
      entry: { type: 'notify', params: ({ context }) => notice(context, 'expired') },
      on: { 'payment.succeeded': { target: 'refunding', actions: 'rememberPayment' } },
    },
    cancelled: {
      entry: { type: 'notify', params: ({ context }) => notice(context, 'cancelled') },
      on: { 'payment.succeeded': { target: 'refunding', actions: 'rememberPayment' } },
    },
    payment_failed: {
      entry: { type: 'notify', params: ({ context }) => notice(context, 'payment_failed') },
      on: { 'payment.succeeded': { target: 'refunding', actions: 'rememberPayment' } },
    },
  },
});

function notice(context: PurchaseContext, kind: PurchaseEffects['notify']['kind']): PurchaseEffects['notify'] {
  return { purchaseId: context.purchaseId, customerId: context.customerId, kind };
}

export type PurchaseMachine = typeof purchaseMachine;
