// BullMQ plumbing shared by every queue: one naming scheme for keys, and the connection rules
// (workers block, so they get their own connection that retries forever; producers fail fast).
import { Worker, type Job, type QueueOptions, type WorkerOptions } from 'bullmq';
import { BullMQOtel } from 'bullmq-otel';
import type { Logger } from '../observability/index.ts';
import { createRedis, type Redis } from '../store/index.ts';

export interface QueueSettings {
  redisUrl: string;
  /** The deployment's key prefix; queues live under `<prefix>:jobs`. */
  keyPrefix: string;
  /** Told of every failed job attempt, by queue (metrics). */
  onJobFailed?: (queue: string) => void;
}

export function queuePrefix(settings: QueueSettings): string {
  return `${settings.keyPrefix}:jobs`;
}

/**
 * Trace context travels with each job: adding a job is a span of the trace that added it, and
 * processing it a span of the same trace (a webhook's job continues the webhook's request).
 */
const telemetry = new BullMQOtel({ tracerName: 'boxoffice.jobs' });

export function producerOptions(settings: QueueSettings, connection: Redis): QueueOptions {
  return { connection: connection, prefix: queuePrefix(settings), telemetry };
}

export function workerConnection(settings: QueueSettings, name: string): Redis {
  return createRedis({ url: settings.redisUrl, role: 'worker', name: `boxoffice-worker-${name}` });
}

export function workerOptions(settings: QueueSettings, connection: Redis, concurrency: number): WorkerOptions {
  return { connection: connection, prefix: queuePrefix(settings), concurrency, autorun: true, telemetry };
}

export interface RunningWorker {
  /** The queue it works. */
  queue: string;
  /** Resolves while the worker runs (not closing) and its Redis connection answers; rejects saying which failed. */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A worker on its own blocking connection, logging failed jobs (with attempts) and connection
 * errors under `label`; `close` waits for jobs in flight, then drops the connection.
 */
export function startWorker<T>(
  settings: QueueSettings,
  queue: string,
  process: (job: Job<T>) => Promise<unknown>,
  options: { concurrency: number; log: Logger; label: string; onClose?: () => Promise<void> },
): RunningWorker {
  const connection = workerConnection(settings, queue);
  const worker = new Worker<T>(queue, async (job) => void (await process(job)), workerOptions(settings, connection, options.concurrency));
  worker.on('failed', (job, err) => {
    settings.onJobFailed?.(queue);
    options.log.warn({ err, jobId: job?.id, attempts: job?.attemptsMade }, `${options.label} failed`);
  });
  worker.on('error', (err) => options.log.warn({ err }, `${options.label} worker error`));
  return {
    queue,
    async ready() {
      if (worker.closing || !worker.isRunning()) throw new Error('worker not running');
      // The connection the worker moves jobs on (its blocking copy sits in BZPOPMIN). Lost: fail
      // now, rather than queue a ping that waits for the reconnect (a first connect is waited for).
      if (['reconnecting', 'close', 'end'].includes(connection.status)) throw new Error(`redis connection ${connection.status}`);
      await connection.ping();
    },
    async close() {
      await worker.close();
      await options.onClose?.();
      connection.disconnect();
    },
  };
}
