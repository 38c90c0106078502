// Durable time for purchases: each hold's deadline is a delayed BullMQ job that delivers
// `hold.expired` (the machine's guard checks the deadline, so a late job is harmless), and a
// periodic sweep over Postgres expires whatever a lost job missed, re-runs stuck outbox effects
// and rebuilds counts. Every node runs both; running twice changes nothing.
//
// Deadlines are on the database's clock (store clock), while BullMQ makes a delayed job due by the
// local clock of whichever worker looks: a node whose clock runs fast takes jobs early. The worker
// therefore checks the deadline on the store clock and puts an early job back to wait.
import { DelayedError, Queue } from 'bullmq';
import { producerOptions, startWorker, type QueueSettings, type RunningWorker } from '../jobs/index.ts';
import type { Logger } from '../observability/index.ts';
import { fixedOffsetClock, type Redis, type Sql, type StoreClock } from '../store/index.ts';

export const HOLD_TIMER_QUEUE = 'hold-timers';

/** An early job due this soon waits on this node rather than going back to the queue. */
const WAIT_IN_PLACE_MS = 1_000;

type Clock = Pick<StoreClock, 'now'>;

export interface HoldTimers {
  schedule(purchaseId: string, deadline: Date): Promise<void>;
  close(): Promise<void>;
}

export function createHoldTimers(settings: QueueSettings, connection: Redis, clock: Clock = fixedOffsetClock()): HoldTimers {
  const queue = new Queue<{ purchaseId: string; deadline: number }>(HOLD_TIMER_QUEUE, producerOptions(settings, connection, HOLD_TIMER_QUEUE));
  return {
    async schedule(purchaseId, deadline) {
      await queue.add(
        'expire',
        { purchaseId, deadline: deadline.getTime() },
        {
          // One hold per purchase, so one timer: a retried effect adds nothing new.
          jobId: `expire-${purchaseId}`,
          // BullMQ counts the delay from this node's clock: what is left until the deadline.
          delay: Math.max(0, deadline.getTime() - clock.now()),
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function startHoldTimerWorker(
  settings: QueueSettings,
  expire: (purchaseId: string, now: number) => Promise<unknown>,
  log: Logger,
  clock: Clock = fixedOffsetClock(),
): RunningWorker {
  return startWorker<{ purchaseId: string; deadline: number }>(
    settings,
    HOLD_TIMER_QUEUE,
    async (job, token) => {
      let early = job.data.deadline - clock.now();
      if (early > 0 && early <= WAIT_IN_PLACE_MS) {
        await sleep(early + 1);
        early = job.data.deadline - clock.now();
      }
      if (early > 0) {
        // Due by another clock, not yet by the store's: back to the delayed set for what is left
        // (counted from this node's clock, as BullMQ counts), without spending an attempt.
        await job.moveToDelayed(Date.now() + early, token);
        throw new DelayedError(`hold timer ${early} ms early`);
      }
      return expire(job.data.purchaseId, clock.now());
    },
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
