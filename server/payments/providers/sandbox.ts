// The sandbox payment provider, for development and demos (production refuses it): a payment the
// buyer succeeds or fails by hand (the sandbox routes play the bank). Its outcomes take the same
// road a verified webhook takes.
import { randomBytes } from 'node:crypto';
import { AppError } from '../../errors.ts';
import type { Sql } from '../../store/index.ts';
import type { PaymentOutcome, PaymentProvider, RemoteStatus } from './provider.ts';

export interface SandboxPayment {
  id: string;
  purchaseId: string;
  amountMinor: number;
  currency: string;
  status: 'pending' | 'succeeded' | 'failed' | 'cancelled' | 'refunded';
}

export function createSandboxProvider(sql: Sql, report: (outcome: PaymentOutcome) => Promise<unknown>) {
  const columns = sql`id, purchase_id as "purchaseId", amount_minor as "amountMinor", currency, status`;

  async function owned(paymentId: string, customerId: string): Promise<SandboxPayment> {
    const [payment] = await sql<(SandboxPayment & { customerId: string })[]>`
      select ${columns}, (select customer_id from purchases p where p.id = s.purchase_id) as "customerId"
      from sandbox_payments s where s.id = ${paymentId}`;
    if (!payment || payment.customerId !== customerId) throw new AppError('not_found', 'payment not found');
    const { customerId: _owner, ...rest } = payment;
    return rest;
  }

  async function settle(paymentId: string, customerId: string, outcome: 'succeeded' | 'failed'): Promise<SandboxPayment> {
    const payment = await owned(paymentId, customerId);
    if (payment.status !== 'pending') throw new AppError('conflict', `the payment is already ${payment.status}`);
    const [updated] = await sql<SandboxPayment[]>`
      update sandbox_payments set status = ${outcome}, updated_at = now() where id = ${paymentId} and status = 'pending'
      returning ${columns}`;
    if (!updated) throw new AppError('conflict', 'the payment changed meanwhile');
    await report({
      eventId: `${paymentId}-${outcome}`,
      eventType: `sandbox.payment.${outcome}`,
      purchaseId: updated.purchaseId,
      paymentId,
      outcome,
      amountMinor: updated.amountMinor,
      currency: updated.currency,
      reason: outcome === 'failed' ? 'declined_in_sandbox' : undefined,
    });
    return updated;
  }

  const provider: PaymentProvider = {
    name: 'sandbox',
    cancelIsFinal: true,
    async start({ purchaseId, amountMinor, currency, idempotencyKey }) {
      const id = `sbx_${randomBytes(12).toString('base64url')}`;
      await sql`
        insert into sandbox_payments (id, purchase_id, amount_minor, currency, idempotency_key)
        values (${id}, ${purchaseId}, ${amountMinor}, ${currency}, ${idempotencyKey})
        on conflict (idempotency_key) do nothing`;
      const [row] = await sql<{ id: string }[]>`select id from sandbox_payments where idempotency_key = ${idempotencyKey}`;
      return { paymentId: row!.id, redirectUrl: `/api/v1/sandbox/payments/${row!.id}` };
    },
    async cancel({ paymentId }) {
      await sql`update sandbox_payments set status = 'cancelled', updated_at = now() where id = ${paymentId} and status = 'pending'`;
      const [row] = await sql<{ status: string }[]>`select status from sandbox_payments where id = ${paymentId}`;
      return row?.status === 'succeeded' || row?.status === 'refunded' ? 'succeeded' : 'cancelled';
    },
    async refund({ paymentId }) {
      await sql`update sandbox_payments set status = 'refunded', updated_at = now() where id = ${paymentId} and status = 'succeeded'`;
      return { refundId: `sbx_refund_${paymentId}` };
    },
    async lookup(paymentId) {
      const [row] = await sql<SandboxPayment[]>`select ${columns} from sandbox_payments where id = ${paymentId}`;
      if (!row) throw new AppError('not_found', 'payment not found');
      const status: RemoteStatus = row.status === 'refunded' ? 'succeeded' : row.status;
      return { status, amountMinor: row.amountMinor, currency: row.currency };
    },
  };

  return {
    provider,
    get: owned,
    succeed: (paymentId: string, customerId: string) => settle(paymentId, customerId, 'succeeded'),
    fail: (paymentId: string, customerId: string) => settle(paymentId, customerId, 'failed'),
  };
}

export type SandboxPayments = ReturnType<typeof createSandboxProvider>;
