// Paystack over its HTTP API (no SDK): a transaction initialised per purchase (reference
// `bo_<purchase id>`, amount in the currency's minor unit, the purchase id in metadata), verified
// for reconciliation, refunded in full or in part. Paystack has no idempotency keys, so a refund
// carries its step in `merchant_note` and an existing one is looked up before asking again.
// Webhooks are signed with HMAC-SHA512 of the raw body under the secret key (x-paystack-signature).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ProviderError, WebhookRejected, type PaymentProvider, type RemoteStatus, type VerifiedWebhook } from './provider.ts';

export interface PaystackSettings {
  secretKey: string;
  apiUrl: string;
  callbackUrl: string | null;
}

const envelope = z.object({ status: z.boolean(), message: z.string().optional(), data: z.unknown().optional() });
const transactionSchema = z.object({
  id: z.number(),
  reference: z.string(),
  amount: z.number().int(),
  currency: z.string(),
  status: z.string(),
  gateway_response: z.string().nullish(),
  metadata: z.union([z.object({ purchaseId: z.string().optional() }).loose(), z.string(), z.null()]).optional(),
});
const webhookSchema = z.object({ event: z.string().min(1), data: z.object({ id: z.union([z.number(), z.string()]) }).loose() });

export const paystackReference = (purchaseId: string) => `bo_${purchaseId}`;

function statusOf(status: string): RemoteStatus {
  if (status === 'success') return 'succeeded';
  if (status === 'failed' || status === 'reversed') return 'failed';
  if (status === 'abandoned') return 'cancelled';
  return 'pending';
}

function purchaseIdOf(metadata: unknown): string | null {
  if (metadata && typeof metadata === 'object' && 'purchaseId' in metadata && typeof metadata.purchaseId === 'string') return metadata.purchaseId;
  return null;
}

export function createPaystackProvider(settings: PaystackSettings): PaymentProvider {
  const base = settings.apiUrl.replace(/\/$/, '');

  async function api<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${settings.secretKey}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(20_000),
    });
    const parsed = envelope.safeParse(await res.json().catch(() => null));
    if (!parsed.success) throw new ProviderError(`paystack: unreadable answer (${res.status})`, undefined, res.status);
    if (!res.ok || !parsed.data.status) throw new ProviderError(`paystack: ${parsed.data.message ?? res.status}`, undefined, res.status);
    return parsed.data.data as T;
  }

  async function verify(reference: string) {
    return transactionSchema.parse(await api('GET', `/transaction/verify/${encodeURIComponent(reference)}`));
  }

  return {
    name: 'paystack',
    cancelIsFinal: false,

    async start({ purchaseId, amountMinor, currency, customerEmail }) {
      const reference = paystackReference(purchaseId);
      const data = z.object({ authorization_url: z.string(), reference: z.string() }).parse(
        await api('POST', '/transaction/initialize', {
          email: customerEmail,
          amount: amountMinor,
          currency,
          reference,
          metadata: { purchaseId },
          ...(settings.callbackUrl ? { callback_url: settings.callbackUrl } : {}),
        }),
      );
      return { paymentId: data.reference, redirectUrl: data.authorization_url };
    },

    async cancel({ paymentId }) {
      // Paystack cannot cancel an initialised transaction: it is abandoned unless it was paid.
      const transaction = await verify(paymentId).catch(() => null);
      return transaction && statusOf(transaction.status) === 'succeeded' ? 'succeeded' : 'cancelled';
    },

    async refund({ paymentId, amountMinor, idempotencyKey }) {
      const existing = z
        .array(z.object({ id: z.union([z.number(), z.string()]), merchant_note: z.string().nullish() }).loose())
        .parse(await api('GET', `/refund?transaction=${encodeURIComponent(paymentId)}`));
      const done = existing.find((r) => r.merchant_note === idempotencyKey);
      if (done) return { refundId: String(done.id) };
      const refund = z
        .object({ id: z.union([z.number(), z.string()]) })
        .loose()
        .parse(await api('POST', '/refund', { transaction: paymentId, amount: amountMinor, merchant_note: idempotencyKey }));
      return { refundId: String(refund.id) };
    },

    async lookup(paymentId) {
      const transaction = await verify(paymentId);
      return {
        status: statusOf(transaction.status),
        amountMinor: transaction.amount,
        currency: transaction.currency.toUpperCase(),
        failure: transaction.gateway_response ?? undefined,
      };
    },

    verifyWebhook(rawBody, headers): VerifiedWebhook {
      const signature = headers['x-paystack-signature'];
      if (typeof signature !== 'string' || !/^[0-9a-f]{128}$/i.test(signature)) throw new WebhookRejected('missing or malformed x-paystack-signature header');
      const expected = createHmac('sha512', settings.secretKey).update(rawBody).digest();
      if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) throw new WebhookRejected('signature does not match');
      let body: z.infer<typeof webhookSchema>;
      try {
        body = webhookSchema.parse(JSON.parse(rawBody.toString('utf8')));
      } catch {
        throw new WebhookRejected('not a Paystack event');
      }
      // Paystack events carry no id of their own: the event name and the object's id identify one.
      const eventId = `${body.event}:${String(body.data.id)}`;
      if (body.event === 'charge.success' || body.event === 'charge.failed') {
        const transaction = transactionSchema.safeParse(body.data);
        if (!transaction.success) throw new WebhookRejected('charge event without a transaction');
        const t = transaction.data;
        const succeeded = body.event === 'charge.success' && t.status === 'success';
        return {
          kind: 'outcome',
          outcome: {
            eventId,
            eventType: body.event,
            purchaseId: purchaseIdOf(t.metadata),
            paymentId: t.reference,
            outcome: succeeded ? 'succeeded' : 'failed',
            amountMinor: t.amount,
            currency: t.currency.toUpperCase(),
            reason: succeeded ? undefined : (t.gateway_response ?? 'charge_failed'),
          },
        };
      }
      return { kind: 'other', eventId, eventType: body.event, purchaseId: purchaseIdOf(body.data['metadata']) };
    },
  };
}
