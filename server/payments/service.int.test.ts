// Receiving a payment outcome when the queue is away: the event is stored, the provider gets a
// 5xx and sends it again; the repeat is a duplicate, and it queues the event the first delivery
// could not (before, it stayed stored and unprocessed for good). Real Postgres, real BullMQ.
import pino from 'pino';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '../../test/helpers/databases.ts';
import { producerOptions, type QueueSettings } from '../jobs/index.ts';
import { createPaymentEventQueue, PAYMENT_EVENTS_QUEUE, type PaymentEventQueue } from './events.ts';
import type { PaymentProvider, VerifiedWebhook } from './providers/provider.ts';
import { createPayments } from './service.ts';

describe('payments: receiving outcomes', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let settings: QueueSettings;
  let queue: PaymentEventQueue;
  let jobs: Queue;

  beforeAll(async () => {
    [db, redis] = await Promise.all([createTestDatabase(), createTestRedis()]);
    settings = { redis: redis.target, keyPrefix: redis.prefix };
    queue = createPaymentEventQueue(settings, redis.client);
    jobs = new Queue(PAYMENT_EVENTS_QUEUE, producerOptions(settings, redis.client, PAYMENT_EVENTS_QUEUE));
  });
  afterAll(async () => {
    await Promise.all([queue?.close(), jobs?.close()]);
    await Promise.all([db?.drop(), redis?.cleanup()]);
  });

  it('a repeat of an event stored while the queue was away queues it; later repeats add nothing', async () => {
    let away = true;
    const published: string[] = [];
    const flaky: PaymentEventQueue = {
      async publish(ref) {
        if (away) throw new Error('connection is closed');
        published.push(ref.eventId);
        await queue.publish(ref);
      },
      close: () => Promise.resolve(),
    };
    const payments = createPayments({ sql: db.sql, provider: { name: 'stripe' } as PaymentProvider, queue: flaky, log: pino({ level: 'silent' }) });
    const verified: VerifiedWebhook = {
      kind: 'outcome',
      outcome: { eventId: 'evt_queue_away', eventType: 'payment_intent.succeeded', purchaseId: null, paymentId: 'pi_1', outcome: 'succeeded', amountMinor: 100, currency: 'EUR' },
    };

    await expect(payments.receive('stripe', verified, { id: 'evt_queue_away' })).rejects.toThrow('connection is closed');
    const [stored] = await db.sql<{ outcome: string | null }[]>`select outcome from webhook_events where event_id = 'evt_queue_away'`;
    expect(stored).toEqual({ outcome: null });

    away = false;
    expect(await payments.receive('stripe', verified, { id: 'evt_queue_away' })).toBe('duplicate');
    expect(await payments.receive('stripe', verified, { id: 'evt_queue_away' })).toBe('duplicate');
    expect(published).toEqual(['evt_queue_away', 'evt_queue_away']);
    expect(await jobs.getJobCounts('wait', 'delayed', 'active')).toEqual({ wait: 1, delayed: 0, active: 0 });

    // Processed: a repeat queues nothing more.
    await db.sql`update webhook_events set outcome = 'processed', processed_at = now() where event_id = 'evt_queue_away'`;
    expect(await payments.receive('stripe', verified, { id: 'evt_queue_away' })).toBe('duplicate');
    expect(published).toHaveLength(2);
  });
});
