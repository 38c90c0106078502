// Chaos: Redis loses everything (FLUSHALL) in the middle of a spike and stays up. The holds, the
// counts, the seats, the fencing counters, the live versions and the queues' jobs are gone; the
// nodes rebuild the counts, seats and holds from PostgreSQL, the sweep expires the holds whose
// timers were lost, new holds get timers again, watchers see the live version jump and re-sync,
// and every promise holds: nothing oversold (PostgreSQL refuses at confirm; such buyers are
// refunded), no hold leaked, and the Redis counts true once the sale has settled.
import { describe, expect, it } from 'vitest';
import { runSpike, Tally } from './crowd.ts';
import { chaosScenario } from './scenario.ts';
import { countsPresent, expiryLagMs, holdTimerStates, leftoverHoldRecords, purchaseEnds } from './redis-probes.ts';
import { planCrowd } from './sale.ts';
import { expectEveryPromiseKept, ownChecks, phaseLog, reportOf, settleAndCheck, writeReport } from './verdict.ts';
import { openWatchers } from './watchers.ts';

const SCENARIO = 'redis-flush';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** An expiry this soon after the deadline came from the hold's timer; the sweep takes longer (2 s slack). */
const TIMER_LAG_MS = 1_500;

const phase = phaseLog(SCENARIO);

describe('chaos: Redis flushed mid-spike', () => {
  const scenario = chaosScenario(SCENARIO, { sale: { standing: 120, seats: 50, buyers: 360 } });

  it('rebuilds counts, seats and holds from PostgreSQL; queues resume; watchers re-sync; nothing oversold', async () => {
    const { stores, nodes, sale } = scenario;
    const startedAt = Date.now();
    phase.start();
    const tally = new Tally();
    const ids = sale.events.map((e) => e.eventId);
    const watchers = await openWatchers(nodes, ids, 2, tally);

    const plans = planCrowd(sale, { rampMs: 8_000, nodes: nodes.length, shares: { pay: 0.6, cancel: 0.15 } });
    phase(`spike of ${plans.length} buyers starts`);
    const spike = runSpike({ nodes, plans, tally });
    await sleep(3_000);

    const [live] = await stores.sql<{ n: number }[]>`
      select count(*)::int as n from purchases where event_id in ${stores.sql(ids)} and state in ('held', 'paying', 'confirming')`;
    const liveAtFlush = live?.n ?? 0;
    const resyncsBefore = watchers.watchers.map((w) => w.resyncs);
    const flushedAt = new Date();
    await stores.flushRedis();
    phase(`Redis flushed with ${liveAtFlush} purchases holding`);

    // The counts come back (the first hold or watcher that misses them rebuilds them).
    let countsRebuiltMs: number | null = null;
    for (let i = 0; i < 100 && countsRebuiltMs === null; i++) {
      if (await countsPresent(stores, sale.events)) countsRebuiltMs = Date.now() - flushedAt.getTime();
      else await sleep(100);
    }
    phase(countsRebuiltMs === null ? 'counts NOT rebuilt' : `counts rebuilt ${countsRebuiltMs} ms after the flush`);

    // New holds get timers again: every purchase held since the flush has its delayed job.
    await sleep(3_000);
    const heldSince = (
      await stores.sql<{ id: string }[]>`
        select id from purchases where event_id in ${stores.sql(ids)} and state in ('held', 'paying') and created_at > ${flushedAt}`
    ).map((r) => r.id);
    const timerStates = await holdTimerStates(stores, heldSince);
    const withTimer = Object.values(timerStates).filter((s) => s !== 'none').length;
    phase(`${withTimer} of ${heldSince.length} holds placed since the flush have a timer`);

    const result = await spike;
    phase('every buyer done; settling');
    const checked = await settleAndCheck(stores, sale.events, 30_000);
    const stale = await watchers.stale(checked.truth, 12_000);
    phase('settled and checked');
    watchers.close();

    // How the holds expired: placed before the flush, their timers were lost (the sweep ends them);
    // placed after it, their timers fire.
    const purchases = await stores.sql<{ id: string; after: boolean }[]>`
      select id, created_at > ${flushedAt} as after from purchases where event_id in ${stores.sql(ids)} and state = 'expired'`;
    const lags = await expiryLagMs(stores, purchases.map((p) => p.id));
    const lagsOf = (after: boolean) => purchases.filter((p) => p.after === after && lags[p.id] !== undefined).map((p) => lags[p.id]!);
    const summary = (list: number[]) => ({ expired: list.length, byTimer: list.filter((l) => l < TIMER_LAG_MS).length, maxLagMs: list.length ? Math.max(...list) : null });
    const expiries = { heldBeforeFlush: summary(lagsOf(false)), heldAfterFlush: summary(lagsOf(true)) };
    const notResynced = watchers.watchers.filter((w, i) => w.resyncs <= resyncsBefore[i]!).length;
    const ends = await purchaseEnds(stores, sale.events);
    const nodeErrors = nodes.flatMap((n) => n.errors());
    const leftover = await leftoverHoldRecords(stores, sale.events);

    const report = reportOf(
      SCENARIO,
      `Redis FLUSHALL ${Math.round((flushedAt.getTime() - startedAt) / 100) / 10} s into the run (3 s into an 8 s ramp of ${plans.length} buyers), Redis staying up`,
      startedAt,
      tally,
      checked,
      {
        liveAtFlush,
        countsRebuiltMs,
        held: result.held.length,
        holdAnswersLost: result.unknown,
        timersAfterFlush: { checked: heldSince.length, withTimer },
        expiries,
        purchases: ends.byState,
        refundedBecause: ends.refundedBecause,
        watcherResyncs: watchers.watchers.reduce((n, w) => n + w.resyncs, 0),
        watchersNotResyncedAfterFlush: notResynced,
        nodesAlive: nodes.filter((n) => n.alive()).length,
        nodeErrors: nodeErrors.length,
      },
      ...ownChecks({
        watchers_resynced: notResynced ? [...stale, `${notResynced} watchers did not re-sync after the flush`] : stale,
        counts_rebuilt: countsRebuiltMs !== null,
        timers_resumed: withTimer === heldSince.length && expiries.heldAfterFlush.byTimer > 0,
        no_error_logs: nodeErrors,
        hold_records_gone: leftover,
      }),
    );
    await writeReport(report, nodes);

    expectEveryPromiseKept(report);
    expect(liveAtFlush).toBeGreaterThan(0);
    expect(countsRebuiltMs).not.toBeNull();
    expect(heldSince.length).toBeGreaterThan(0);
    expect(withTimer).toBe(heldSince.length);
    expect(nodes.every((n) => n.alive())).toBe(true);
    expect(stale).toEqual([]);
    expect(notResynced).toBe(0);
  });
});
