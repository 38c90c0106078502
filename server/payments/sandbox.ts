// The sandbox payment provider, for development and demos (production refuses it): a payment the
// buyer succeeds or fails by hand. Its outcome goes through the same queue a real webhook uses.
import { randomBytes } from 'node:crypto';
import { AppError } from '../errors.ts';
import type { PaymentPort } from '../purchases/payments-port.ts';
import type { Sql } from '../store/index.ts';
import type { PaymentEventQueue } from './events.ts';

export interface SandboxPayment {
  id: string;
  purchaseId: string;
  amountMinor: number;
  currency: string;
  status: 'pending' | 'succeeded' | 'failed' | 'cancelled' | 'refunded';
}

export function createSandboxPayments(sql: Sql, events: PaymentEventQueue) {
  const columns = sql`id, purchase_id as "purchaseId", amount_minor as "amountMinor", currency, status`;

  async function settle(paymentId: string, customerId: string, outcome: 'succeeded' | 'failed'): Promise<SandboxPayment> {
    const [payment] = await sql<(SandboxPayment & { customerId: string })[]>`
      select ${columns}, (select customer_id from purchases p where p.id = s.purchase_id) as "customerId"
      from sandbox_payments s where s.id = ${paymentId}`;
    if (!payment || payment.customerId !== customerId) throw new AppError('not_found', 'payment not found');
    if (payment.status !== 'pending') throw new AppError('conflict', `the payment is already ${payment.status}`);
    const [updated] = await sql<SandboxPayment[]>`
      update sandbox_payments set status = ${outcome}, updated_at = now() where id = ${paymentId} and status = 'pending'
      returning ${columns}`;
    if (!updated) throw new AppError('conflict', 'the payment changed meanwhile');
    await events.publish({
      id: `${paymentId}-${outcome}`,
      provider: 'sandbox',
      purchaseId: updated.purchaseId,
      paymentId,
      outcome,
      ...(outcome === 'failed' ? { reason: 'declined_in_sandbox' } : {}),
    });
    return updated;
  }

  const port: PaymentPort = {
    async start({ purchaseId, amountMinor, currency, idempotencyKey }) {
      const id = `sbx_${randomBytes(12).toString('base64url')}`;
      await sql`
        insert into sandbox_payments (id, purchase_id, amount_minor, currency, idempotency_key)
        values (${id}, ${purchaseId}, ${amountMinor}, ${currency}, ${idempotencyKey})
        on conflict (idempotency_key) do nothing`;
      const [row] = await sql<{ id: string }[]>`select id from sandbox_payments where idempotency_key = ${idempotencyKey}`;
      return { paymentId: row!.id };
    },
    async cancel({ paymentId }) {
      await sql`update sandbox_payments set status = 'cancelled', updated_at = now() where id = ${paymentId} and status = 'pending'`;
    },
    async refund({ paymentId }) {
      await sql`update sandbox_payments set status = 'refunded', updated_at = now() where id = ${paymentId} and status = 'succeeded'`;
    },
  };

  return {
    port,
    succeed: (paymentId: string, customerId: string) => settle(paymentId, customerId, 'succeeded'),
    fail: (paymentId: string, customerId: string) => settle(paymentId, customerId, 'failed'),
    async get(paymentId: string, customerId: string): Promise<SandboxPayment> {
      const [payment] = await sql<(SandboxPayment & { customerId: string })[]>`
        select ${columns}, (select customer_id from purchases p where p.id = s.purchase_id) as "customerId"
        from sandbox_payments s where s.id = ${paymentId}`;
      if (!payment || payment.customerId !== customerId) throw new AppError('not_found', 'payment not found');
      const { customerId: _owner, ...rest } = payment;
      return rest;
    },
  };
}

export type SandboxPayments = ReturnType<typeof createSandboxPayments>;
