// BullMQ plumbing shared by every queue: one naming scheme for keys, and the connection rules
// (workers block, so they get their own connection that retries forever; producers fail fast).
// BullMQ's scripts touch many keys of one queue at once, so on a Redis Cluster all of a queue's
// keys must share a slot: each queue's prefix carries a hash tag of its own, which keeps one
// queue in one slot while different queues spread over the shards.
import { Worker, type Job, type QueueOptions, type WorkerOptions } from 'bullmq';
import { BullMQOtel } from 'bullmq-otel';
import type { Logger } from '../observability/index.ts';
import { createRedis, type Redis, type RedisTarget } from '../store/index.ts';

export interface QueueSettings {
  /** One Redis or a cluster: where workers open their own connections. */
  redis: RedisTarget;
  /** The deployment's key prefix; a queue's keys live under `<prefix>:{jobs:<queue>}:<queue>:`. */
  keyPrefix: string;
  /** Told of every failed job attempt, by queue (metrics). */
  onJobFailed?: (queue: string) => void;
}

/** BullMQ's prefix for one queue: the hash tag `{jobs:<queue>}` puts all its keys in one cluster slot. */
export function queuePrefix(settings: QueueSettings, queue: string): string {
  return `${settings.keyPrefix}:{jobs:${queue}}`;
}

/**
 * Trace context travels with each job: adding a job is a span of the trace that added it, and
 * processing it a span of the same trace (a webhook's job continues the webhook's request).
 */
const telemetry = new BullMQOtel({ tracerName: 'boxoffice.jobs' });

/** Options for a `new Queue(queue, ...)` producing on `connection` (the node's request connection). */
export function producerOptions(settings: QueueSettings, connection: Redis, queue: string): QueueOptions {
  return { connection: connection, prefix: queuePrefix(settings, queue), telemetry };
}

export function workerConnection(settings: QueueSettings, queue: string): Redis {
  return createRedis({ target: settings.redis, role: 'worker', name: `boxoffice-worker-${queue}` });
}

export function workerOptions(settings: QueueSettings, connection: Redis, queue: string, concurrency: number): WorkerOptions {
  return { connection: connection, prefix: queuePrefix(settings, queue), concurrency, autorun: true, telemetry };
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
  /** `token` is the worker's lock on the job (what `job.moveToDelayed` needs). */
  process: (job: Job<T>, token: string | undefined) => Promise<unknown>,
  options: { concurrency: number; log: Logger; label: string; onClose?: () => Promise<void> },
): RunningWorker {
  const connection = workerConnection(settings, queue);
  const worker = new Worker<T>(queue, async (job, token) => void (await process(job, token)), workerOptions(settings, connection, queue, options.concurrency));
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
