// Payment outcomes travel one road, whichever provider reports them: stored in webhook_events,
// then a BullMQ job keyed by provider and event id (a duplicate is the same job), processed with
// retries and backoff by any node, which checks it and delivers it to the purchase actor.
import { Queue } from 'bullmq';
import { producerOptions, startWorker, type QueueSettings, type RunningWorker } from '../jobs/index.ts';
import type { Logger } from '../observability/index.ts';
import type { Redis } from '../store/index.ts';
import type { ProviderName } from './providers/provider.ts';

export const PAYMENT_EVENTS_QUEUE = 'payment-events';

export interface StoredEventRef {
  provider: ProviderName;
  eventId: string;
}

const jobId = (ref: StoredEventRef) => `${ref.provider}-${ref.eventId}`.replace(/[^A-Za-z0-9_.-]/g, '_');

export interface PaymentEventQueue {
  publish(ref: StoredEventRef): Promise<void>;
  close(): Promise<void>;
}

export function createPaymentEventQueue(settings: QueueSettings, connection: Redis): PaymentEventQueue {
  const queue = new Queue<StoredEventRef>(PAYMENT_EVENTS_QUEUE, producerOptions(settings, connection, PAYMENT_EVENTS_QUEUE));
  return {
    async publish(ref) {
      await queue.add('outcome', ref, {
        jobId: jobId(ref),
        attempts: 10,
        backoff: { type: 'exponential', delay: 500 },
        removeOnComplete: { age: 7 * 24 * 3600 },
        removeOnFail: { age: 30 * 24 * 3600 },
      });
    },
    close: () => queue.close(),
  };
}

export function startPaymentEventWorker(
  settings: QueueSettings,
  process: (ref: StoredEventRef) => Promise<unknown>,
  log: Logger,
): RunningWorker {
  return startWorker<StoredEventRef>(settings, PAYMENT_EVENTS_QUEUE, (job) => process(job.data), {
    concurrency: 8,
    log,
    label: 'payment event processing',
  });
}
