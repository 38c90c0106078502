// Durable time for purchases: each hold's deadline is a delayed BullMQ job that delivers
// `hold.expired` (the machine's guard checks the deadline, so an early or late job is harmless),
// and a periodic sweep over Postgres expires whatever a lost job missed, re-runs stuck outbox
// effects and rebuilds counts. Every node runs both; running twice changes nothing.
import { Queue } from 'bullmq';
import { producerOptions, startWorker, type QueueSettings, type RunningWorker } from '../jobs/index.ts';
import type { Logger } from '../observability/index.ts';
import type { Redis, Sql } from '../store/index.ts';

export const HOLD_TIMER_QUEUE = 'hold-timers';

export interface HoldTimers {
  schedule(purchaseId: string, deadline: Date): Promise<void>;
  close(): Promise<void>;
}

export function createHoldTimers(settings: QueueSettings, connection: Redis): HoldTimers {
  const queue = new Queue<{ purchaseId: string; deadline: number }>(HOLD_TIMER_QUEUE, producerOptions(settings, connection, HOLD_TIMER_QUEUE));
  return {
    async schedule(purchaseId, deadline) {
      await queue.add(
        'expire',
        { purchaseId, deadline: deadline.getTime() },
        {
          // One hold per purchase, so one timer: a retried effect adds nothing new.
          jobId: `expire-${purchaseId}`,
          delay: Math.max(0, deadline.getTime() - Date.now()),
          attempts: 5,
          backoff: { type: 'exponential', delay: 1_000 },
          removeOnComplete: true,
          removeOnFail: { age: 24 * 3600 },
        },
      );
    },
    close: () => queue.close(),
  };
}

export function startHoldTimerWorker(
  settings: QueueSettings,
  expire: (purchaseId: string, now: number) => Promise<unknown>,
  log: Logger,
): RunningWorker {
  return startWorker<{ purchaseId: string; deadline: number }>(
    settings,
    HOLD_TIMER_QUEUE,
    (job) => expire(job.data.purchaseId, Math.max(Date.now(), job.data.deadline)),
    { concurrency: 16, log, label: 'hold timer' },
  );
}

/** Purchases whose hold deadline passed (by `slackMs`) while they still hold. */
export async function overdueHolds(sql: Sql, slackMs: number, limit = 500): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    select id from purchases
    where state in ('held', 'paying') and hold_deadline < now() - make_interval(secs => ${slackMs / 1000})
    order by hold_deadline limit ${limit}`;
  return rows.map((r) => r.id);
}
