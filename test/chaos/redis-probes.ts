// What the Redis fault scenarios look at besides the promises: the checks' Redis connection back, the hold
// timers (delayed jobs) of some purchases, the Redis counts of the sale, and how its purchases
// ended (paid ones refunded because their units were gone after Redis lost them).
import { Queue } from 'bullmq';
import { producerOptions } from '../../server/jobs/index.ts';
import { HOLD_TIMER_QUEUE } from '../../server/purchases/timers.ts';
import type { ChaosStores } from './stores.ts';
import { KEY_PREFIX } from './stores.ts';
import type { ChaosEvent } from './verdict.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (bounded) until the checks' own Redis connection answers again after a restart. */
export async function waitRedis(stores: ChaosStores, withinMs = 15_000): Promise<void> {
  const from = Date.now();
  for (;;) {
    try {
      await stores.redis.ping();
      return;
    } catch (err) {
      if (Date.now() - from > withinMs) throw err;
      await sleep(100);
    }
  }
}

/** The state of each purchase's hold timer job ('none' when the queue has no such job). */
export async function holdTimerStates(stores: ChaosStores, purchaseIds: readonly string[]): Promise<Record<string, string>> {
  const queue = new Queue(HOLD_TIMER_QUEUE, producerOptions({ redis: { kind: 'single', url: stores.redisUrl }, keyPrefix: KEY_PREFIX }, stores.redis, HOLD_TIMER_QUEUE));
  try {
    const states = await Promise.all(
      purchaseIds.map(async (id) => {
        const job = await queue.getJob(`expire-${id}`);
        return [id, job ? await job.getState() : 'none'] as const;
      }),
    );
    return Object.fromEntries(states);
  } finally {
    await queue.close();
  }
}

/** Whether Redis has an available count for every event of the sale. */
export async function countsPresent(stores: ChaosStores, events: readonly ChaosEvent[]): Promise<boolean> {
  const values = await stores.redis.mget(...events.map((e) => `${KEY_PREFIX}:{ev:${e.eventId}}:avail:${e.ticketTypeId}`));
  return values.every((v) => v !== null);
}

/** Purchases of the sale by end state, and the failures of those refunded (why their tickets could not be issued). */
export async function purchaseEnds(stores: ChaosStores, events: readonly ChaosEvent[]): Promise<{ byState: Record<string, number>; refundedBecause: Record<string, number> }> {
  const ids = events.map((e) => e.eventId);
  const byState = await stores.sql<{ state: string; n: number }[]>`
    select state, count(*)::int as n from purchases where event_id in ${stores.sql(ids)} group by state order by state`;
  const refunded = await stores.sql<{ reason: string; n: number }[]>`
    select coalesce(snapshot->'context'->>'failure', 'none') as reason, count(*)::int as n
    from purchases where event_id in ${stores.sql(ids)} and state in ('refunding', 'refunded') group by 1 order by 1`;
  return {
    byState: Object.fromEntries(byState.map((r) => [r.state, r.n])),
    refundedBecause: Object.fromEntries(refunded.map((r) => [r.reason, r.n])),
  };
}

/** How long after its deadline each purchase's hold expired, ms (absent: it did not expire). */
export async function expiryLagMs(stores: ChaosStores, purchaseIds: readonly string[]): Promise<Record<string, number>> {
  if (!purchaseIds.length) return {};
  const rows = await stores.sql<{ id: string; lag: number }[]>`
    select e.purchase_id as id, round(extract(epoch from e.at) * 1000 - (h.payload->>'deadline')::bigint)::int as lag
    from purchase_transitions e
    join purchase_transitions h on h.purchase_id = e.purchase_id and h.event_type = 'hold.placed'
    where e.purchase_id in ${stores.sql(purchaseIds)} and e.event_type = 'hold.expired' and e.to_state = 'expired'`;
  return Object.fromEntries(rows.map((r) => [r.id, r.lag]));
}

/**
 * Hold records still in Redis for purchases that have ended: units set aside that nothing gives
 * back (the count stays low). Each with the purchase's path, for the fix.
 */
export async function leftoverHoldRecords(stores: ChaosStores, events: readonly ChaosEvent[]): Promise<string[]> {
  const found: { purchaseId: string; record: Record<string, string> }[] = [];
  for (const event of events) {
    const prefix = `${KEY_PREFIX}:{ev:${event.eventId}}:hold:`;
    let cursor = '0';
    for (let i = 0; i < 1_000; i++) {
      const [next, keys] = await stores.redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      for (const key of keys) found.push({ purchaseId: key.slice(prefix.length), record: await stores.redis.hgetall(key) });
      cursor = next;
      if (cursor === '0') break;
    }
  }
  if (!found.length) return [];
  const rows = await stores.sql<{ id: string; state: string; token: string | null; path: string }[]>`
    select p.id, p.state, p.snapshot->'context'->'hold'->>'token' as token,
           (select string_agg(t.event_type || '>' || t.to_state || ' at ' || to_char(t.at, 'HH24:MI:SS.MS'), ' ' order by t.seq) from purchase_transitions t where t.purchase_id = p.id) as path
    from purchases p where p.id in ${stores.sql(found.map((f) => f.purchaseId))} and p.state not in ('held', 'paying', 'confirming')`;
  return rows.map((r) => {
    const record = found.find((f) => f.purchaseId === r.id)!.record;
    return `hold record ${JSON.stringify(record)} of ${r.state} purchase ${r.id} (its token ${r.token ?? '-'}): ${r.path}`;
  });
}
