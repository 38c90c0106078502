// Chaos: PostgreSQL crashes (an immediate shutdown) in the middle of a spike and comes back a few
// seconds later, recovering from its WAL. While it is away every request that needs it is refused
// cleanly (503 service_unavailable with Retry-After, which the crowd retries with the same
// Idempotency-Key), readiness says so, and no node crashes or logs an error; when it returns the
// nodes are ready again, every purchase ends, every promise holds, and no payment the buyers saw
// succeed is lost: each belongs to a purchase that ends confirmed or refunded.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { runSpike, send, Tally, type HeldPurchase } from './crowd.ts';
import { chaosScenario } from './scenario.ts';
import { readinessWhileDown, waitAllReady } from './nodes.ts';
import { planCrowd } from './sale.ts';
import { expectEveryPromiseKept, expectOutageSurvived, ownChecks, phaseLog, reportOf, settleAndCheck, writeReport } from './verdict.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const phase = phaseLog('postgres-restart');

describe('chaos: PostgreSQL restarted mid-spike', () => {
  const scenario = chaosScenario('postgres-restart', { durable: true, sale: { standing: 120, seats: 50, buyers: 330 } });

  it('refuses cleanly while it is away and loses nothing paid when it returns', async () => {
    const { stores, nodes, sale } = scenario;
    // A crash must not lose what PostgreSQL acknowledged: the scenario's database commits durably.
    const [setting] = await stores.sql<{ synchronous_commit: string }[]>`show synchronous_commit`;
    expect(setting!.synchronous_commit).toBe('on');
    const startedAt = Date.now();
    phase.start();
    const tally = new Tally();
    const [standing] = sale.events;
    const EARLY = 6;

    // Payments the buyers saw succeed: 200, or a retry's 409 saying it already succeeded (the first
    // answer was lost). A 409 "already cancelled" is a payment refused, not one taken.
    const paidSeen = new Map<string, string>();
    // Holds answered 2xx that gave the buyer nothing to pay. A hold whose first try was cut off
    // halfway is carried on by the retry (its answer is 503 until it has its payment); a retry
    // answered after the hold ran out meanwhile says so (200, expired): fair, and counted. Live
    // without a payment would be a purchase the buyer cannot pay.
    const unpayable: string[] = [];
    let endedBeforePayable = 0;
    const pay = async (p: HeldPurchase, deadline: number) => {
      if (!p.paymentId) {
        const seenAt = new Date().toISOString().slice(11, 23);
        const res = await fetch(`${nodes[p.node]!.api}/purchases/${p.purchaseId}`, { headers: { authorization: `Bearer ${p.plan.token}` } });
        const state = ((await res.json()) as { state?: string }).state ?? `HTTP ${res.status}`;
        if (['expired', 'cancelled', 'payment_failed', 'rejected'].includes(state)) endedBeforePayable++;
        else unpayable.push(`purchase ${p.purchaseId} answered without a payment (node ${p.node + 1}, seen ${seenAt}, ${state})`);
        return;
      }
      const answer = await send(tally, 'pay', nodes, p.plan.node, `/sandbox/payments/${p.paymentId}/succeed`, {
        token: p.plan.token,
        body: {},
        deadline,
        alsoSuccess: (a, retried) => retried && a.status === 409,
      });
      const message = (answer.body?.['error'] as { message?: string } | undefined)?.message ?? '';
      if (answer.status === 200 || (answer.status === 409 && message.includes('already succeeded'))) paidSeen.set(p.paymentId, p.purchaseId);
    };

    // Held before the spike and paid while PostgreSQL is away: their buyers retry until it is back.
    const early: HeldPurchase[] = [];
    for (const [i, token] of sale.buyerTokens.slice(0, EARLY).entries()) {
      const held = await send(tally, 'hold', nodes, i % nodes.length, '/purchases', {
        token,
        body: { eventId: standing!.eventId, items: [{ ticketTypeId: standing!.ticketTypeId, quantity: 1 }] },
        headers: { 'idempotency-key': randomUUID() },
        deadline: Date.now() + 10_000,
      });
      expect(held.status).toBe(201);
      const payment = held.body!['payment'] as { paymentId: string; provider: string };
      early.push({
        purchaseId: String(held.body!['id']),
        node: held.node,
        paymentId: payment.paymentId,
        provider: payment.provider,
        plan: { token, eventId: standing!.eventId, ticketTypeId: standing!.ticketTypeId, quantity: 1, fate: 'pay', arriveAt: 0, node: i % nodes.length },
      });
    }

    const plans = planCrowd({ ...sale, buyerTokens: sale.buyerTokens.slice(EARLY) }, { rampMs: 9_000, nodes: nodes.length, shares: { pay: 0.6, cancel: 0.15 } });
    phase(`${early.length} early holds; spike of ${plans.length} buyers starts`);
    const spike = runSpike({ nodes, plans, tally, pay });
    await sleep(3_000);

    const killedAt = Date.now();
    await stores.killPostgres();
    phase('PostgreSQL killed');
    const earlyPays = Promise.all(early.map((p) => pay(p, Date.now() + 30_000)));
    // Readiness while it is away, polled until the restart.
    const downReadiness = await readinessWhileDown(nodes, Math.max(0, 3_000 - (Date.now() - killedAt)));
    await stores.startPostgres();
    const outageMs = Date.now() - killedAt;
    phase(`PostgreSQL accepts connections again (readiness while down: ${[...downReadiness].join(', ')})`);

    // Every node ready again (bounded): PostgreSQL reconnected, workers running.
    const readyAgainMs = await waitAllReady(nodes, 15_000);

    phase(readyAgainMs === null ? 'nodes NOT ready again' : `every node ready again after ${readyAgainMs} ms`);
    const result = await spike;
    await earlyPays;
    phase('every buyer done; settling');
    const checked = await settleAndCheck(stores, sale.events, 40_000);
    phase('settled and checked');

    // Nothing paid is lost: what the buyers saw succeed, and what the bank (the sandbox) took.
    const seen = [...paidSeen.values()];
    const seenEnds = seen.length
      ? await stores.sql<{ id: string; state: string }[]>`select id, state from purchases where id in ${stores.sql(seen)}`
      : [];
    const lost = seenEnds.filter((p) => p.state !== 'confirmed' && p.state !== 'refunded').map((p) => `paid purchase ${p.id} ended ${p.state}`);
    const missing = seen.filter((id) => !seenEnds.some((p) => p.id === id)).map((id) => `paid purchase ${id} not found`);
    const takenNotKept = await stores.sql<{ id: string; state: string; status: string }[]>`
      select p.id, p.state, s.status from sandbox_payments s join purchases p on p.id = s.purchase_id
      where s.status in ('succeeded', 'refunded') and p.state not in ('confirmed', 'refunded')`;
    const byState = await stores.sql<{ state: string; n: number }[]>`select state, count(*)::int as n from purchases group by state order by state`;
    const nodeErrors = nodes.flatMap((n) => n.errors());
    // What became of the purchases answered without a payment: their path, for the report.
    const unpayablePaths = await Promise.all(
      unpayable.map(async (line) => {
        const id = /purchase (\S+)/.exec(line)![1]!;
        const steps = await stores.sql<{ step: string }[]>`
          select event_type || '>' || to_state || ' at ' || to_char(at, 'HH24:MI:SS.MS') as step from purchase_transitions where purchase_id = ${id} order by seq`;
        return `${line}: ${steps.map((r) => r.step).join(', ')}`;
      }),
    );
    const report = reportOf(
      'postgres-restart',
      `PostgreSQL killed (immediate shutdown) ${Math.round((killedAt - startedAt) / 100) / 10} s into the run, 3 s into a 9 s ramp of ${plans.length} buyers, restarted after ${Math.round(outageMs / 100) / 10} s`,
      startedAt,
      tally,
      checked,
      {
        outageMs,
        readyAgainMs,
        readinessWhileDown: [...downReadiness].sort(),
        held: result.held.length,
        holdAnswersLost: result.unknown,
        paidSeen: paidSeen.size,
        endedBeforePayable,
        purchases: Object.fromEntries(byState.map((r) => [r.state, r.n])),
        nodesAlive: nodes.filter((n) => n.alive()).length,
        nodeErrors: nodeErrors.length,
      },
      ...ownChecks({
        paid_seen_kept: [...lost, ...missing],
        payments_taken_kept: takenNotKept.map((r) => `purchase ${r.id} ${r.state}, payment ${r.status}`),
        hold_answers_payable: unpayablePaths,
        ready_again: readyAgainMs !== null,
        no_error_logs: nodeErrors,
      }),
    );
    await writeReport(report, nodes);

    expectEveryPromiseKept(report);
    expectOutageSurvived({ tally, downReadiness, readyAgainMs, nodes });
    expect(paidSeen.size).toBeGreaterThan(0);
    expect(nodeErrors).toEqual([]);
  });
});
