// Every span name and attribute key we emit, in one place.
export const TELEMETRY = {
  /** One event delivered to a purchase (and the effects it led to). */
  deliverSpan: 'boxoffice.purchase.deliver',
  /** The outbox relay re-running a purchase's unfinished effect. */
  relaySpan: 'boxoffice.purchase.relay',
  /** One committed state transition. */
  transitionSpan: 'boxoffice.purchase.transition',
  purchaseId: 'boxoffice.purchase.id',
  transitionFrom: 'boxoffice.transition.from',
  transitionTo: 'boxoffice.transition.to',
  transitionEventType: 'boxoffice.transition.event',
  transitionSeq: 'boxoffice.transition.seq',
} as const;
