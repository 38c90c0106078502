// The sandbox provider's buyer-facing routes (only registered when PAYMENT_PROVIDER=sandbox):
// look at a payment, then succeed or fail it, as a card form would.
import { z } from 'zod';
import { requireUser } from '../http/policy.ts';
import type { App } from '../http/types.ts';
import type { SandboxPayments } from './providers/sandbox.ts';
import type { Payments } from './service.ts';

const paymentSchema = z.object({
  id: z.string(),
  purchaseId: z.string(),
  amountMinor: z.number(),
  currency: z.string(),
  status: z.enum(['pending', 'succeeded', 'failed', 'cancelled', 'refunded']),
});

export function sandboxRoutes(sandbox: SandboxPayments) {
  return (api: App) => {
    const params = z.object({ paymentId: z.string().regex(/^sbx_[A-Za-z0-9_-]{16}$/, 'not a sandbox payment id') });
    const tags = ['sandbox payments'];
    api.get(
      '/sandbox/payments/:paymentId',
      { config: { policy: 'user' }, schema: { tags, summary: 'A sandbox payment of yours', params, response: { 200: paymentSchema } } },
      async (request) => sandbox.get(request.params.paymentId, requireUser(request).userId),
    );
    for (const outcome of ['succeed', 'fail'] as const) {
      api.post(
        `/sandbox/payments/:paymentId/${outcome}`,
        {
          config: { policy: 'user' },
          schema: { tags, summary: `${outcome === 'succeed' ? 'Pay' : 'Decline'} a pending sandbox payment`, params, response: { 200: paymentSchema } },
        },
        async (request) => sandbox[outcome](request.params.paymentId, requireUser(request).userId),
      );
    }
  };
}

/** For admins: the money health of the whole system (issue 9 exports the same as metrics). */
export function paymentHealthRoutes(payments: Pick<Payments, 'health'>) {
  return (api: App) => {
    api.get(
      '/admin/payments/health',
      {
        config: { policy: 'admin' },
        schema: {
          tags: ['payments'],
          summary: 'Money taken without a ticket or a refund (must be 0), payments pending, webhooks not yet processed',
          response: { 200: z.object({ paidWithoutTicketOrRefund: z.number(), pendingPayments: z.number(), unprocessedWebhooks: z.number() }) },
        },
      },
      () => payments.health(),
    );
  };
}
