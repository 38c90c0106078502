// Chaos: Redis is killed (SIGKILL) in the middle of a spike and started again on its AOF about two
// seconds later. While it is away, every request that needs it is refused cleanly (503
// service_unavailable, which the crowd retries with the same Idempotency-Key), readiness says so,
// and no node crashes; when it is back every node is ready again, the queue workers resume (hold
// timers scheduled before the outage still fire), watchers catch up, and every promise holds.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { runSpike, send, Tally, type HeldPurchase } from './crowd.ts';
import { chaosScenario } from './scenario.ts';
import { readinessWhileDown, waitAllReady } from './nodes.ts';
import { expiryLagMs, holdTimerStates, purchaseEnds, waitRedis } from './redis-probes.ts';
import { planCrowd } from './sale.ts';
import { expectEveryPromiseKept, expectOutageSurvived, ownChecks, phaseLog, reportOf, settleAndCheck, writeReport } from './verdict.ts';
import { openWatchers } from './watchers.ts';

const SCENARIO = 'redis-restart';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const phase = phaseLog(SCENARIO);

describe('chaos: Redis restarted mid-spike (AOF)', () => {
  const scenario = chaosScenario(SCENARIO, { sale: { standing: 140, seats: 60, buyers: 366 } });

  it('refuses cleanly while Redis is away; nodes, queues and watchers carry on when it is back', async () => {
    const { stores, nodes, sale } = scenario;
    const startedAt = Date.now();
    phase.start();
    const tally = new Tally();
    const [standing] = sale.events;
    const EARLY = 6;

    // Holds answered 2xx that gave the buyer nothing to pay.
    const unpayable: string[] = [];
    const pay = async (p: HeldPurchase, deadline: number) => {
      if (!p.paymentId) {
        unpayable.push(`purchase ${p.purchaseId} answered without a payment (node ${p.node + 1})`);
        return;
      }
      await send(tally, 'pay', nodes, p.plan.node, `/sandbox/payments/${p.paymentId}/succeed`, {
        token: p.plan.token,
        body: {},
        deadline,
        alsoSuccess: (a, retried) => retried && a.status === 409,
      });
    };

    // Held just before the spike and abandoned: their hold timers are delayed jobs in Redis,
    // scheduled before the outage and due after it.
    const early: string[] = [];
    for (const [i, token] of sale.buyerTokens.slice(0, EARLY).entries()) {
      const held = await send(tally, 'hold', nodes, i % nodes.length, '/purchases', {
        token,
        body: { eventId: standing!.eventId, items: [{ ticketTypeId: standing!.ticketTypeId, quantity: 1 }] },
        headers: { 'idempotency-key': randomUUID() },
        deadline: Date.now() + 10_000,
      });
      expect(held.status).toBe(201);
      early.push(String(held.body!['id']));
    }
    const watchers = await openWatchers(nodes, sale.events.map((e) => e.eventId), 2, tally);

    const plans = planCrowd({ ...sale, buyerTokens: sale.buyerTokens.slice(EARLY) }, { rampMs: 8_000, nodes: nodes.length, shares: { pay: 0.6, cancel: 0.15 } });
    phase(`${early.length} early holds; spike of ${plans.length} buyers starts`);
    const spike = runSpike({ nodes, plans, tally, pay });
    await sleep(3_000);

    const killedAt = Date.now();
    await stores.killRedis();
    phase('Redis killed');
    // Readiness while it is away, polled for about two seconds (counted from the kill's end: on
    // a busy machine the kill itself may take a while), then the restart.
    const downReadiness = await readinessWhileDown(nodes, 2_000);
    await stores.startRedis();
    const outageMs = Date.now() - killedAt;
    phase(`Redis answers again after ${outageMs} ms (readiness while down: ${[...downReadiness].join(', ')})`);

    // The early holds' timers came back with the AOF (unless already due and fired).
    await waitRedis(stores);
    const earlyTimers = await holdTimerStates(stores, early);
    const readyAgainMs = await waitAllReady(nodes, 30_000);
    phase(readyAgainMs === null ? 'nodes NOT ready again' : `every node ready again ${readyAgainMs} ms after the restart`);

    const result = await spike;
    phase('every buyer done; settling');
    const checked = await settleAndCheck(stores, sale.events, 30_000);
    const stale = await watchers.stale(checked.truth, 12_000);
    phase('settled and checked');
    watchers.close();

    const earlyLag = await expiryLagMs(stores, early);
    const earlyExpired = Object.keys(earlyLag).length;
    const timersKept = Object.values(earlyTimers).filter((s) => s !== 'none').length;
    const ends = await purchaseEnds(stores, sale.events);
    const nodeErrors = nodes.flatMap((n) => n.errors());
    const report = reportOf(
      SCENARIO,
      `Redis SIGKILLed ${Math.round((killedAt - startedAt) / 100) / 10} s into the run (3 s into an 8 s ramp of ${plans.length} buyers), started again on its AOF after ${Math.round(outageMs / 100) / 10} s`,
      startedAt,
      tally,
      checked,
      {
        outageMs,
        readyAgainMs,
        readinessWhileDown: [...downReadiness].sort(),
        held: result.held.length,
        holdAnswersLost: result.unknown,
        purchases: ends.byState,
        refundedBecause: ends.refundedBecause,
        earlyHoldTimers: {
          afterRestart: Object.values(earlyTimers),
          expired: earlyExpired,
          // An expiry within 1.5 s of the deadline came from the timer; the sweep takes 2 s more.
          expiredByTimer: Object.values(earlyLag).filter((lag) => lag < 1_500).length,
          expiryLagMs: Object.values(earlyLag).sort((a, b) => a - b),
        },
        watcherResyncs: watchers.watchers.reduce((n, w) => n + w.resyncs, 0),
        nodesAlive: nodes.filter((n) => n.alive()).length,
        nodeErrors: nodeErrors.length,
      },
      ...ownChecks({
        watchers_resynced: stale,
        ready_again: readyAgainMs !== null,
        hold_answers_payable: unpayable,
        early_timers_kept: timersKept === early.length && earlyExpired === early.length,
        no_error_logs: nodeErrors,
      }),
    );
    await writeReport(report, nodes);

    expectEveryPromiseKept(report);
    expectOutageSurvived({ tally, downReadiness, readyAgainMs, nodes });
    expect(stale).toEqual([]);
  });
});
