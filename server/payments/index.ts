// Payments: the provider-neutral road for payment outcomes, and the sandbox provider.
export { createPaymentEventQueue, PAYMENT_EVENTS_QUEUE, providerEventSchema, startPaymentEventWorker, toPurchaseEvent, type PaymentEventQueue, type ProviderEvent } from './events.ts';
export { sandboxRoutes } from './routes.ts';
export { createSandboxPayments, type SandboxPayment, type SandboxPayments } from './sandbox.ts';
