// Email goes through a BullMQ queue: the request only enqueues (fast, survives an SMTP outage),
// a worker on any node delivers with retries and backoff.
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { producerOptions, startWorker, type QueueSettings, type RunningWorker } from '../jobs/index.ts';
import type { Logger } from '../observability/index.ts';
import type { Redis } from '../store/index.ts';
import type { Mailer, MailMessage } from './mailer.ts';

export const MAIL_QUEUE = 'mail';

export interface MailQueue {
  enqueue(message: MailMessage): Promise<string>;
  close(): Promise<void>;
}

export function createMailQueue(settings: QueueSettings, connection: Redis): MailQueue {
  const queue = new Queue<MailMessage>(MAIL_QUEUE, producerOptions(settings, connection, MAIL_QUEUE));
  return {
    async enqueue(message) {
      const jobId = randomUUID();
      await queue.add('send', message, {
        jobId,
        attempts: 8,
        backoff: { type: 'exponential', delay: 1_000 },
        removeOnComplete: true,
        removeOnFail: { age: 7 * 24 * 3600 },
      });
      return jobId;
    },
    close: () => queue.close(),
  };
}

export function startMailWorker(settings: QueueSettings, mailer: Mailer, log: Logger): RunningWorker {
  return startWorker<MailMessage>(settings, MAIL_QUEUE, (job) => mailer.deliver(job.id ?? randomUUID(), job.data), {
    concurrency: 4,
    log,
    label: 'mail delivery',
    onClose: async () => void (await mailer.close?.()),
  });
}
