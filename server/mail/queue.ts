// Email goes through a BullMQ queue: the request only enqueues (fast, survives an SMTP outage),
// a worker on any node delivers with retries and backoff.
import { randomUUID } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { producerOptions, workerConnection, workerOptions, type QueueSettings } from '../jobs/index.ts';
import type { Logger } from '../observability/index.ts';
import type { Redis } from '../store/index.ts';
import type { Mailer, MailMessage } from './mailer.ts';

export const MAIL_QUEUE = 'mail';

export interface MailQueue {
  enqueue(message: MailMessage): Promise<string>;
  close(): Promise<void>;
}

export function createMailQueue(settings: QueueSettings, connection: Redis): MailQueue {
  const queue = new Queue<MailMessage>(MAIL_QUEUE, producerOptions(settings, connection));
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

export function startMailWorker(settings: QueueSettings, mailer: Mailer, log: Logger): { close(): Promise<void> } {
  const connection = workerConnection(settings, MAIL_QUEUE);
  const worker = new Worker<MailMessage>(
    MAIL_QUEUE,
    async (job) => {
      await mailer.deliver(job.id ?? randomUUID(), job.data);
    },
    workerOptions(settings, connection, 4),
  );
  worker.on('failed', (job, err) => log.warn({ err, jobId: job?.id, attempts: job?.attemptsMade }, 'mail delivery failed'));
  worker.on('error', (err) => log.warn({ err }, 'mail worker error'));
  return {
    async close() {
      await worker.close();
      await mailer.close?.();
      connection.disconnect();
    },
  };
}
