// Hold timers on real Redis and BullMQ, with deadlines on a store clock that is not this process's
// clock: a job due by the local clock but early by the store's goes back to wait (no attempt spent,
// no failure) and expires once the store's time reaches the deadline; the delay a timer is added
// with counts from the store clock.
import { Queue } from 'bullmq';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRedis, type TestRedis } from '../../test/helpers/databases.ts';
import type { QueueSettings } from '../jobs/index.ts';
import { producerOptions } from '../jobs/index.ts';
import { fixedOffsetClock } from '../store/index.ts';
import { createHoldTimers, HOLD_TIMER_QUEUE, startHoldTimerWorker } from './timers.ts';

const log = pino({ level: 'silent' });

describe('hold timers on the store clock', () => {
  let redis: TestRedis;

  beforeAll(async () => {
    redis = await createTestRedis();
  });
  afterAll(async () => {
    await redis.cleanup();
  });

  /** A queue of its own per test (its own prefix), the calls the worker made, and its failures. */
  function harness(name: string) {
    const failures: string[] = [];
    const settings: QueueSettings = { redis: redis.target, keyPrefix: `${redis.prefix}:${name}`, onJobFailed: (queue) => void failures.push(queue) };
    const queue = new Queue<{ purchaseId: string; deadline: number }>(HOLD_TIMER_QUEUE, producerOptions(settings, redis.client, HOLD_TIMER_QUEUE));
    const expired: { purchaseId: string; now: number; at: number }[] = [];
    const expire = (purchaseId: string, now: number) => Promise.resolve(void expired.push({ purchaseId, now, at: Date.now() }));
    return { settings, queue, expired, expire, failures };
  }

  it('puts back a job another clock made due 2.5 s early, and expires it when the store reaches the deadline', async () => {
    const { settings, queue, expired, expire, failures } = harness('early');
    // This node's clock runs 2.5 s ahead of the store's.
    const store = fixedOffsetClock(-2_500);
    const worker = startHoldTimerWorker(settings, expire, log, store);
    try {
      const deadline = store.now() + 1_500;
      const addedAt = Date.now();
      // Added by a node that reads the deadline as already past on its own clock: due at once.
      await queue.add('expire', { purchaseId: 'p-early', deadline }, { jobId: 'expire-p-early', delay: 0, attempts: 5, removeOnComplete: true });
      await expect.poll(() => queue.getJobState('expire-p-early'), { timeout: 1_000, interval: 20 }).toBe('delayed');
      expect(expired).toEqual([]);

      await expect.poll(() => expired.length, { timeout: 5_000, interval: 20 }).toBe(1);
      expect(expired[0]!.purchaseId).toBe('p-early');
      expect(expired[0]!.now).toBeGreaterThanOrEqual(deadline);
      expect(expired[0]!.at - addedAt).toBeGreaterThanOrEqual(1_450);
      expect(failures).toEqual([]);
      await expect.poll(() => queue.getJobState('expire-p-early'), { timeout: 1_000, interval: 20 }).toBe('unknown');
    } finally {
      await worker.close();
      await queue.close();
    }
  });

  it('waits in place for a job due within a second by the store clock', async () => {
    const { settings, queue, expired, expire, failures } = harness('short');
    const store = fixedOffsetClock(-600);
    const worker = startHoldTimerWorker(settings, expire, log, store);
    try {
      const deadline = store.now() + 400;
      await queue.add('expire', { purchaseId: 'p-short', deadline }, { jobId: 'expire-p-short', removeOnComplete: true });
      await expect.poll(() => expired.length, { timeout: 3_000, interval: 20 }).toBe(1);
      expect(expired[0]!.now).toBeGreaterThanOrEqual(deadline);
      expect(failures).toEqual([]);
    } finally {
      await worker.close();
      await queue.close();
    }
  });

  it('expires a job whose deadline passed on the store clock at once, with the store time', async () => {
    const { settings, queue, expired, expire } = harness('due');
    const store = fixedOffsetClock(4_000);
    const worker = startHoldTimerWorker(settings, expire, log, store);
    try {
      // Still 2 s ahead on this node's clock, passed on the store's.
      const deadline = Date.now() + 2_000;
      const addedAt = Date.now();
      await queue.add('expire', { purchaseId: 'p-due', deadline }, { jobId: 'expire-p-due', removeOnComplete: true });
      await expect.poll(() => expired.length, { timeout: 3_000, interval: 20 }).toBe(1);
      expect(expired[0]!.at - addedAt).toBeLessThan(1_500);
      expect(expired[0]!.now).toBeGreaterThanOrEqual(deadline);
    } finally {
      await worker.close();
      await queue.close();
    }
  });

  it("adds each timer with the delay left on the store clock, not on this node's", async () => {
    const { settings, queue } = harness('delay');
    // This node's clock runs 5 s ahead: a deadline 2 s away on the store clock is 3 s past on its own.
    const store = fixedOffsetClock(-5_000);
    const timers = createHoldTimers(settings, redis.client, store);
    try {
      await timers.schedule('p-delay', new Date(store.now() + 2_000));
      const job = await queue.getJob('expire-p-delay');
      expect(job?.delay).toBeGreaterThan(1_900);
      expect(job?.delay).toBeLessThanOrEqual(2_000);
      expect(await job?.getState()).toBe('delayed');
    } finally {
      await timers.close();
      await queue.close();
    }
  });
});
