// Payments, whatever the provider: starting a payment for a purchase (and remembering what the
// buyer's page needs), cancelling and refunding it under idempotency keys, and the one road every
// outcome takes — a verified webhook, the sandbox's buttons, or reconciliation — into the purchase:
// stored once in webhook_events (provider + event id), queued, checked against the payment it
// names (purchase, amount, currency), then delivered to the purchase actor.
import type { PurchaseEvent } from '../../machines/index.ts';
import { AppError } from '../errors.ts';
import type { Logger } from '../observability/index.ts';
import type { PaymentPort } from '../purchases/payments-port.ts';
import type { Sql } from '../store/index.ts';
import type { PaymentEventQueue } from './events.ts';
import type { PaymentOutcome, PaymentProvider, ProviderName, VerifiedWebhook } from './providers/provider.ts';

export interface PaymentRecord {
  id: string;
  provider: ProviderName;
  purchaseId: string;
  amountMinor: number;
  currency: string;
  clientSecret: string | null;
  redirectUrl: string | null;
  status: 'pending' | 'succeeded' | 'failed' | 'cancelled';
  refundedMinor: number;
}

export interface PaymentsDeps {
  sql: Sql;
  provider: PaymentProvider;
  queue: PaymentEventQueue;
  log: Logger;
}

const recordColumns = (sql: Sql) => sql`
  id, provider, purchase_id as "purchaseId", amount_minor as "amountMinor", currency, client_secret as "clientSecret",
  redirect_url as "redirectUrl", status, refunded_minor as "refundedMinor"`;

export function createPayments({ sql, provider, queue, log }: PaymentsDeps) {
  async function paymentOf(purchaseId: string): Promise<PaymentRecord | null> {
    const [row] = await sql<PaymentRecord[]>`
      select ${recordColumns(sql)} from payments where purchase_id = ${purchaseId} and provider = ${provider.name}
      order by created_at desc limit 1`;
    return row ?? null;
  }

  /**
   * Stores an outcome once and queues it. Answers 'duplicate' when this provider event was seen
   * before (sequential or concurrent repeats: the primary key lets one insert through). A repeat
   * of an outcome stored but not processed yet queues it again: the first delivery may have been
   * stored and then failed to reach the queue (the provider got a 5xx and retries), and nothing
   * else would ever queue it. The job id is the event's, so a job already there is not added twice.
   */
  async function receive(source: ProviderName, verified: VerifiedWebhook, payload: unknown): Promise<'accepted' | 'duplicate'> {
    const outcome = verified.kind === 'outcome' ? verified.outcome : null;
    const eventId = outcome?.eventId ?? (verified.kind === 'other' ? verified.eventId : '');
    const eventType = outcome?.eventType ?? (verified.kind === 'other' ? verified.eventType : '');
    const purchaseId = (outcome?.purchaseId ?? (verified.kind === 'other' ? verified.purchaseId : null)) || null;
    const validPurchaseId = purchaseId && /^[0-9a-f-]{36}$/i.test(purchaseId) ? purchaseId : null;
    const [stored] = await sql`
      insert into webhook_events (provider, event_id, event_type, purchase_id, payload, normalized, outcome, reason, processed_at)
      values (${source}, ${eventId}, ${eventType}, ${validPurchaseId}, ${sql.json(payload as never)}, ${outcome ? sql.json(outcome as never) : null},
              ${outcome ? null : 'ignored'}, ${outcome ? null : 'not an event boxoffice acts on'}, ${outcome ? null : sql`now()`})
      on conflict (provider, event_id) do nothing
      returning event_id`;
    if (!stored) {
      if (outcome) {
        const [seen] = await sql<{ outcome: string | null }[]>`
          select outcome from webhook_events where provider = ${source} and event_id = ${eventId}`;
        if (seen && seen.outcome === null) await queue.publish({ provider: source, eventId });
      }
      return 'duplicate';
    }
    if (outcome) await queue.publish({ provider: source, eventId });
    return 'accepted';
  }

  async function settleWebhook(source: string, eventId: string, outcome: 'processed' | 'ignored', reason: string | null) {
    await sql`
      update webhook_events set outcome = ${outcome}, reason = ${reason}, processed_at = now()
      where provider = ${source} and event_id = ${eventId} and outcome is null`;
  }

  /** The queue worker: checks a stored outcome against its payment and delivers it. */
  async function process(source: ProviderName, eventId: string, deliver: (purchaseId: string, event: PurchaseEvent) => Promise<unknown>) {
    const [row] = await sql<{ normalized: PaymentOutcome | null; outcome: string | null }[]>`
      select normalized, outcome from webhook_events where provider = ${source} and event_id = ${eventId}`;
    if (!row?.normalized || row.outcome) return;
    const event = row.normalized;
    const ignore = async (reason: string) => {
      log.warn({ provider: source, eventId, paymentId: event.paymentId, purchaseId: event.purchaseId, reason }, 'payment event ignored');
      await settleWebhook(source, eventId, 'ignored', reason);
    };
    const [payment] = await sql<PaymentRecord[]>`
      select ${recordColumns(sql)} from payments where provider = ${source} and id = ${event.paymentId}`;
    if (!payment) {
      const [purchase] = event.purchaseId && /^[0-9a-f-]{36}$/i.test(event.purchaseId) ? await sql`select 1 from purchases where id = ${event.purchaseId}` : [];
      if (!purchase) return ignore('no purchase of ours has this payment');
      // The purchase exists but its payment row is not written yet: try again later.
      throw new Error(`payment ${event.paymentId} of purchase ${event.purchaseId} is not recorded yet`);
    }
    if (event.purchaseId && event.purchaseId !== payment.purchaseId) return ignore('the event names another purchase than its payment');
    if (event.amountMinor !== payment.amountMinor || event.currency !== payment.currency) {
      return ignore(`amount ${event.amountMinor} ${event.currency} does not match the payment's ${payment.amountMinor} ${payment.currency}`);
    }
    if (event.outcome === 'succeeded') {
      await sql`update payments set status = 'succeeded', updated_at = now() where provider = ${source} and id = ${payment.id}`;
      await deliver(payment.purchaseId, { type: 'payment.succeeded', paymentId: payment.id });
    } else {
      await sql`update payments set status = 'failed', updated_at = now() where provider = ${source} and id = ${payment.id} and status = 'pending'`;
      await deliver(payment.purchaseId, { type: 'payment.failed', paymentId: payment.id, reason: event.reason ?? 'declined' });
    }
    await settleWebhook(source, eventId, 'processed', null);
  }

  /**
   * Money taken with neither tickets nor a refund: succeeded payments whose purchase is not
   * confirmed and not fully refunded (purchases still confirming or refunding get 15 minutes).
   * Must be 0.
   */
  async function paidWithoutTicketOrRefund(): Promise<number> {
    const [row] = await sql<{ n: number }[]>`
      select count(*)::int as n from payments m join purchases p on p.id = m.purchase_id
      where m.status = 'succeeded' and m.refunded_minor < m.amount_minor and p.state <> 'confirmed'
        and not (p.state in ('confirming', 'refunding') and p.updated_at > now() - interval '15 minutes')`;
    return row?.n ?? 0;
  }

  const port: PaymentPort = {
    async start({ purchaseId, amountMinor, currency, idempotencyKey }) {
      const existing = await paymentOf(purchaseId);
      if (existing) return { paymentId: existing.id };
      const [customer] = await sql<{ email: string }[]>`
        select u.email from purchases p join users u on u.id = p.customer_id where p.id = ${purchaseId}`;
      if (!customer) throw new AppError('not_found', 'purchase not found');
      const started = await provider.start({ purchaseId, amountMinor, currency, customerEmail: customer.email, idempotencyKey });
      await sql`
        insert into payments (id, provider, purchase_id, amount_minor, currency, client_secret, redirect_url)
        values (${started.paymentId}, ${provider.name}, ${purchaseId}, ${amountMinor}, ${currency}, ${started.clientSecret ?? null},
                ${started.redirectUrl ?? null})
        on conflict (provider, id) do nothing`;
      return { paymentId: started.paymentId };
    },

    async cancel({ paymentId, idempotencyKey }) {
      const result = await provider.cancel({ paymentId, idempotencyKey });
      // A cancel the provider cannot enforce leaves the payment pending: reconciliation keeps asking.
      if (result === 'succeeded' || provider.cancelIsFinal) {
        await sql`
          update payments set status = ${result}, updated_at = now()
          where provider = ${provider.name} and id = ${paymentId} and status in ('pending', ${result})`;
      }
      return result;
    },

    async refund({ purchaseId, paymentId, amountMinor, currency, idempotencyKey }) {
      if (amountMinor <= 0) return;
      await sql`
        insert into refunds (purchase_id, step, provider, payment_id, amount_minor, currency, reason)
        values (${purchaseId}, ${idempotencyKey}, ${provider.name}, ${paymentId}, ${amountMinor}, ${currency}, 'purchase refund')
        on conflict (step) do nothing`;
      const [refund] = await sql<{ provider_refund_id: string | null; amount_minor: number }[]>`
        select provider_refund_id, amount_minor from refunds where step = ${idempotencyKey}`;
      if (refund?.provider_refund_id) return;
      const { refundId } = await provider.refund({ paymentId, amountMinor: refund!.amount_minor, currency, idempotencyKey });
      await sql.begin(async (tx) => {
        const [first] = await tx`
          update refunds set provider_refund_id = ${refundId} where step = ${idempotencyKey} and provider_refund_id is null returning id`;
        if (first) {
          await tx`
            update payments set refunded_minor = least(amount_minor, refunded_minor + ${refund!.amount_minor}), updated_at = now()
            where provider = ${provider.name} and id = ${paymentId}`;
        }
      });
    },
  };

  return {
    provider,
    port,
    receive,
    process,
    paymentOf,

    /**
     * Reconciliation: payments pending longer than `olderThanMs` are looked up at the provider; a
     * settled one is fed into the same road as its (lost) webhook.
     */
    async reconcile(olderThanMs: number, limit = 100): Promise<number> {
      const stale = await sql<PaymentRecord[]>`
        select ${recordColumns(sql)} from payments
        where provider = ${provider.name} and status = 'pending' and created_at < now() - make_interval(secs => ${olderThanMs / 1000})
          and created_at > now() - interval '2 days'
        order by updated_at limit ${limit}`;
      let resolved = 0;
      for (const payment of stale) {
        const remote = await provider.lookup(payment.id).catch((err: unknown) => {
          log.warn({ err, paymentId: payment.id }, 'reconciliation lookup failed');
          return null;
        });
        // Looked at now: the next round starts with others (order by updated_at).
        await sql`update payments set updated_at = now() where provider = ${provider.name} and id = ${payment.id}`;
        if (!remote || (remote.status !== 'succeeded' && remote.status !== 'failed')) continue;
        const outcome: PaymentOutcome = {
          eventId: `reconcile:${payment.id}:${remote.status}`,
          eventType: 'reconciliation',
          purchaseId: payment.purchaseId,
          paymentId: payment.id,
          outcome: remote.status,
          amountMinor: remote.amountMinor,
          currency: remote.currency,
          reason: remote.failure,
        };
        if ((await receive(provider.name, { kind: 'outcome', outcome }, { reconciled: remote })) === 'accepted') resolved++;
      }
      return resolved;
    },

    paidWithoutTicketOrRefund,

    /** The money health of the system, for admins and metrics. */
    async health(): Promise<{ paidWithoutTicketOrRefund: number; pendingPayments: number; unprocessedWebhooks: number }> {
      const [row] = await sql<{ pending: number; unprocessed: number }[]>`
        select (select count(*)::int from payments where status = 'pending') as pending,
               (select count(*)::int from webhook_events where outcome is null) as unprocessed`;
      return { paidWithoutTicketOrRefund: await paidWithoutTicketOrRefund(), pendingPayments: row!.pending, unprocessedWebhooks: row!.unprocessed };
    },
  };
}

export type Payments = ReturnType<typeof createPayments>;
