// Purchases: the durable host of purchase actors, the effects it runs, and the payment port.
export { createEffectRunner, type EffectDeps } from './effects.ts';
export { createPurchaseHost, type EffectRunner, type PurchaseHost, type PurchaseView, type StartRequest } from './host.ts';
export type { PaymentPort } from './payments-port.ts';
