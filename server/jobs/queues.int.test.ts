// A queue worker against real Redis: ready while it runs, not once it closes; closing lets the job
// in flight finish and be recorded as completed before the worker's connection goes.
import { Queue } from 'bullmq';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRedis, type TestRedis } from '../../test/helpers/databases.ts';
import { producerOptions, startWorker, type QueueSettings } from './queues.ts';

function latch() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe('queue workers', () => {
  let redis: TestRedis;
  let settings: QueueSettings;

  beforeAll(async () => {
    redis = await createTestRedis();
    settings = { redis: redis.target, keyPrefix: redis.prefix };
  });
  afterAll(async () => {
    await redis.cleanup();
  });

  it('closing waits for the job in flight, which completes before the connection is dropped', async () => {
    const entered = latch();
    const release = latch();
    const order: string[] = [];
    const worker = startWorker<{ n: number }>(
      settings,
      'slow-work',
      async () => {
        entered.open();
        await release.opened;
        order.push('job finished');
      },
      { concurrency: 1, log: pino({ level: 'silent' }), label: 'slow work', onClose: () => Promise.resolve(void order.push('worker closed')) },
    );
    const queue = new Queue<{ n: number }>('slow-work', producerOptions(settings, redis.client, 'slow-work'));
    try {
      await queue.add('work', { n: 1 }, { jobId: 'in-flight' });
      await entered.opened;
      await expect(worker.ready()).resolves.toBeUndefined();

      const closing = worker.close();
      // Readiness turns at once: the worker takes no new jobs.
      await expect(worker.ready()).rejects.toThrow('worker not running');
      expect(await queue.getJobState('in-flight')).toBe('active');
      release.open();
      await closing;

      expect(order).toEqual(['job finished', 'worker closed']);
      expect(await queue.getJobState('in-flight')).toBe('completed');
      // Every key of the queue carries its own hash tag (one Redis Cluster slot per queue).
      const keys = await redis.client.keys(`${redis.prefix}:*`);
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) expect(key.startsWith(`${redis.prefix}:{jobs:slow-work}:slow-work:`), key).toBe(true);
    } finally {
      await queue.close();
    }
  });
});
