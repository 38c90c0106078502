// Stripe through its official SDK: a PaymentIntent per purchase (amount and currency from the
// server's price, the purchase id in metadata, an idempotency key per purchase and step), cancelled
// when the hold ends unpaid, refunded in full or in part. Webhooks are verified by the SDK's
// constructEvent over the raw bytes, which also enforces the 300 s timestamp tolerance.
import Stripe from 'stripe';
import { ProviderError, WebhookRejected, type PaymentProvider, type RemoteStatus, type VerifiedWebhook } from './provider.ts';

export interface StripeSettings {
  secretKey: string;
  webhookSecret: string;
  /** A local stand-in's URL (tests); null for Stripe itself. */
  apiUrl: string | null;
}

const upper = (currency: string) => currency.toUpperCase();

function statusOf(intent: Stripe.PaymentIntent): RemoteStatus {
  if (intent.status === 'succeeded') return 'succeeded';
  if (intent.status === 'canceled') return 'cancelled';
  if (intent.status === 'requires_payment_method' && intent.last_payment_error) return 'failed';
  return 'pending';
}

export function createStripeProvider(settings: StripeSettings): PaymentProvider {
  const url = settings.apiUrl ? new URL(settings.apiUrl) : null;
  const stripe = new Stripe(settings.secretKey, {
    maxNetworkRetries: url ? 0 : 2,
    timeout: 20_000,
    telemetry: false,
    ...(url ? { host: url.hostname, port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)), protocol: url.protocol.replace(':', '') as 'http' | 'https' } : {}),
  });

  async function call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (err instanceof Stripe.errors.StripeError) throw new ProviderError(`stripe: ${err.message}`, err.code, err.statusCode);
      throw err;
    }
  }

  return {
    name: 'stripe',
    cancelIsFinal: true,

    async start({ purchaseId, amountMinor, currency, customerEmail, idempotencyKey }) {
      const intent = await call(() =>
        stripe.paymentIntents.create(
          {
            amount: amountMinor,
            currency: currency.toLowerCase(),
            metadata: { purchaseId },
            receipt_email: customerEmail,
            automatic_payment_methods: { enabled: true },
          },
          { idempotencyKey },
        ),
      );
      return { paymentId: intent.id, clientSecret: intent.client_secret ?? undefined };
    },

    async cancel({ paymentId, idempotencyKey }) {
      try {
        await call(() => stripe.paymentIntents.cancel(paymentId, { cancellation_reason: 'abandoned' }, { idempotencyKey }));
        return 'cancelled';
      } catch (err) {
        // Already succeeded (or already cancelled): ask what it is now.
        if (!(err instanceof ProviderError) || err.code !== 'payment_intent_unexpected_state') throw err;
        const intent = await call(() => stripe.paymentIntents.retrieve(paymentId));
        if (intent.status === 'succeeded') return 'succeeded';
        if (intent.status === 'canceled') return 'cancelled';
        throw err;
      }
    },

    async refund({ paymentId, amountMinor, idempotencyKey }) {
      const refund = await call(() => stripe.refunds.create({ payment_intent: paymentId, amount: amountMinor }, { idempotencyKey }));
      return { refundId: refund.id };
    },

    async lookup(paymentId) {
      const intent = await call(() => stripe.paymentIntents.retrieve(paymentId));
      return {
        status: statusOf(intent),
        amountMinor: intent.amount,
        currency: upper(intent.currency),
        failure: intent.last_payment_error?.code ?? undefined,
      };
    },

    verifyWebhook(rawBody, headers): VerifiedWebhook {
      const signature = headers['stripe-signature'];
      if (typeof signature !== 'string' || signature === '') throw new WebhookRejected('missing Stripe-Signature header');
      let event: Stripe.Event;
      try {
        event = stripe.webhooks.constructEvent(rawBody, signature, settings.webhookSecret);
      } catch (err) {
        throw new WebhookRejected(err instanceof Error ? err.message : 'signature verification failed');
      }
      if (event.type === 'payment_intent.succeeded' || event.type === 'payment_intent.payment_failed') {
        const intent = event.data.object;
        const purchaseId = intent.metadata['purchaseId'] ?? null;
        const succeeded = event.type === 'payment_intent.succeeded';
        return {
          kind: 'outcome',
          outcome: {
            eventId: event.id,
            eventType: event.type,
            purchaseId,
            paymentId: intent.id,
            outcome: succeeded ? 'succeeded' : 'failed',
            amountMinor: succeeded ? intent.amount_received || intent.amount : intent.amount,
            currency: upper(intent.currency),
            reason: succeeded ? undefined : (intent.last_payment_error?.code ?? 'payment_failed'),
          },
        };
      }
      const object = event.data.object as { metadata?: Record<string, string> };
      return { kind: 'other', eventId: event.id, eventType: event.type, purchaseId: object.metadata?.['purchaseId'] ?? null };
    },
  };
}
