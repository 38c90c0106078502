// Payment outcomes travel one road, whichever provider reports them: a BullMQ queue keyed by the
// provider's event id (a duplicate report is the same job), processed with retries by any node,
// which delivers the event to the purchase actor.
import { Queue } from 'bullmq';
import { z } from 'zod';
import type { PurchaseEvent } from '../../machines/index.ts';
import { producerOptions, startWorker, type QueueSettings, type RunningWorker } from '../jobs/index.ts';
import type { Logger } from '../observability/index.ts';
import type { Redis } from '../store/index.ts';

export const PAYMENT_EVENTS_QUEUE = 'payment-events';

export const providerEventSchema = z.object({
  /** The provider's own event id: the deduplication key. */
  id: z.string().min(1).max(200),
  provider: z.enum(['sandbox', 'stripe', 'paystack']),
  purchaseId: z.guid(),
  paymentId: z.string().min(1).max(200),
  outcome: z.enum(['succeeded', 'failed']),
  reason: z.string().max(200).optional(),
});
export type ProviderEvent = z.infer<typeof providerEventSchema>;

export function toPurchaseEvent(event: ProviderEvent): PurchaseEvent {
  return event.outcome === 'succeeded'
    ? { type: 'payment.succeeded', paymentId: event.paymentId }
    : { type: 'payment.failed', paymentId: event.paymentId, reason: event.reason ?? 'declined' };
}

const jobId = (event: ProviderEvent) => `${event.provider}-${event.id}`.replace(/[^A-Za-z0-9_.-]/g, '_');

export interface PaymentEventQueue {
  publish(event: ProviderEvent): Promise<void>;
  close(): Promise<void>;
}

export function createPaymentEventQueue(settings: QueueSettings, connection: Redis): PaymentEventQueue {
  const queue = new Queue<ProviderEvent>(PAYMENT_EVENTS_QUEUE, producerOptions(settings, connection));
  return {
    async publish(event) {
      await queue.add('outcome', providerEventSchema.parse(event), {
        jobId: jobId(event),
        attempts: 10,
        backoff: { type: 'exponential', delay: 500 },
        // Kept a week, so the same provider event arriving again is recognised and dropped.
        removeOnComplete: { age: 7 * 24 * 3600 },
        removeOnFail: { age: 30 * 24 * 3600 },
      });
    },
    close: () => queue.close(),
  };
}

export function startPaymentEventWorker(
  settings: QueueSettings,
  deliver: (purchaseId: string, event: PurchaseEvent) => Promise<unknown>,
  log: Logger,
): RunningWorker {
  return startWorker<ProviderEvent>(settings, PAYMENT_EVENTS_QUEUE, (job) => deliver(job.data.purchaseId, toPurchaseEvent(job.data)), {
    concurrency: 8,
    log,
    label: 'payment event processing',
  });
}
