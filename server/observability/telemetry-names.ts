// Every span name and attribute key we emit, in one place.
export const TELEMETRY = {
  deliverSpan: 'boxoffice.purchase.deliver',
  transitionEvent: 'boxoffice.purchase.transition',
  purchaseId: 'boxoffice.purchase.id',
  transitionFrom: 'boxoffice.transition.from',
  transitionTo: 'boxoffice.transition.to',
  transitionEventType: 'boxoffice.transition.event',
} as const;
