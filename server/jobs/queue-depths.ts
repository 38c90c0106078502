// How many jobs wait, run, sit delayed or failed in each queue: read on demand (a metrics scrape)
// through producer handles of the node's own Redis connection.
import { Queue } from 'bullmq';
import type { Redis } from '../store/index.ts';
import { producerOptions, type QueueSettings } from './queues.ts';

export const DEPTH_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

export interface QueueDepth {
  queue: string;
  state: (typeof DEPTH_STATES)[number];
  count: number;
}

export function queueDepths(settings: QueueSettings, redis: Redis, names: readonly string[]) {
  const queues = names.map((name) => new Queue(name, producerOptions(settings, redis, name)));
  return {
    async read(): Promise<QueueDepth[]> {
      const counts = await Promise.all(queues.map((q) => q.getJobCounts(...DEPTH_STATES)));
      return queues.flatMap((q, i) => DEPTH_STATES.map((state) => ({ queue: q.name, state, count: counts[i]?.[state] ?? 0 })));
    },
    async close(): Promise<void> {
      await Promise.all(queues.map((q) => q.close()));
    },
  };
}
