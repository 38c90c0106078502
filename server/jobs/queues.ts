// BullMQ plumbing shared by every queue: one naming scheme for keys, and the connection rules
// (workers block, so they get their own connection that retries forever; producers fail fast).
import type { QueueOptions, WorkerOptions } from 'bullmq';
import { createRedis, type Redis } from '../store/index.ts';

export interface QueueSettings {
  redisUrl: string;
  /** The deployment's key prefix; queues live under `<prefix>:jobs`. */
  keyPrefix: string;
}

export function queuePrefix(settings: QueueSettings): string {
  return `${settings.keyPrefix}:jobs`;
}

export function producerOptions(settings: QueueSettings, connection: Redis): QueueOptions {
  return { connection: connection, prefix: queuePrefix(settings) };
}

export function workerConnection(settings: QueueSettings, name: string): Redis {
  return createRedis({ url: settings.redisUrl, role: 'worker', name: `boxoffice-worker-${name}` });
}

export function workerOptions(settings: QueueSettings, connection: Redis, concurrency: number): WorkerOptions {
  return { connection: connection, prefix: queuePrefix(settings), concurrency, autorun: true };
}
