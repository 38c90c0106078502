// Webhook endpoints, one per configured provider: the signature is checked over the raw bytes
// (this scope parses JSON bodies as buffers, nothing else does), the event is stored once and
// queued, and the provider gets its 2xx at once. Anything not genuine gets 400, a security log
// line, and changes nothing.
import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { App } from '../http/types.ts';
import type { PaymentProvider } from './providers/provider.ts';
import { WebhookRejected } from './providers/provider.ts';
import type { Payments } from './service.ts';

export function webhookRoutes(providers: readonly PaymentProvider[], payments: Pick<Payments, 'receive'>) {
  return (api: App) => {
    api.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    for (const provider of providers) {
      if (!provider.verifyWebhook) continue;
      const verify = provider.verifyWebhook.bind(provider);
      api.post(
        `/webhooks/${provider.name}`,
        {
          config: { policy: 'public' },
          preHandler: api.routeLimits.webhooks,
          schema: {
            tags: ['webhooks'],
            summary: `Payment events from ${provider.name} (signed; verified over the raw body)`,
            response: { 200: z.object({ received: z.literal(true), duplicate: z.boolean() }) },
          },
        },
        async (request) => {
          const raw = request.body;
          if (!Buffer.isBuffer(raw)) throw new AppError('bad_request', 'webhook rejected', { reason: 'expected a JSON body' });
          try {
            const verified = verify(raw, request.headers);
            const payload: unknown = JSON.parse(raw.toString('utf8'));
            const result = await payments.receive(provider.name, verified, payload);
            return { received: true as const, duplicate: result === 'duplicate' };
          } catch (err) {
            if (!(err instanceof WebhookRejected)) throw err;
            request.log.warn({ security: 'webhook_rejected', provider: provider.name, reason: err.reason, ip: request.ip }, 'webhook rejected');
            throw new AppError('bad_request', 'webhook rejected', { reason: 'the signature or the event is not valid' });
          }
        },
      );
    }
  };
}
