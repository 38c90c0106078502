// Payments: providers (Stripe, Paystack, the sandbox), the one road for their outcomes (webhooks,
// the sandbox's buttons, reconciliation -> webhook_events -> queue -> purchase), refunds.
export { createPaymentEventQueue, PAYMENT_EVENTS_QUEUE, startPaymentEventWorker, type PaymentEventQueue, type StoredEventRef } from './events.ts';
export { createPaystackProvider, paystackReference } from './providers/paystack.ts';
export { ProviderError, WebhookRejected, type PaymentOutcome, type PaymentProvider, type ProviderName, type VerifiedWebhook } from './providers/provider.ts';
export { createSandboxProvider, type SandboxPayment, type SandboxPayments } from './providers/sandbox.ts';
export { createStripeProvider } from './providers/stripe.ts';
export { paymentHealthRoutes, sandboxRoutes } from './routes.ts';
export { createPayments, type PaymentRecord, type Payments } from './service.ts';
export { webhookRoutes } from './webhooks.ts';
