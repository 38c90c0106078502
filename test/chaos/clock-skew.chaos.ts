// Chaos: the nodes' clocks disagree — one runs 4 s ahead, one is right, one runs 4 s behind
// (libfaketime). A crowd holds on every node and mostly walks away. Deadlines follow the
// database's clock, so whichever node placed a hold and whichever node's timer or sweep ends it,
// every expired hold ended at or after its deadline and within a small grace of it (PostgreSQL's
// own timestamps), every deadline is HOLD_TTL after the moment the hold was placed (on the
// database's clock), and every promise holds.
import { describe, expect, it } from 'vitest';
import { runSpike, Tally } from './crowd.ts';
import { chaosScenario } from './scenario.ts';
import { faketimeLibrary, skewedClockEnv } from './faketime.ts';
import { chaosEnv, type ChaosNode } from './nodes.ts';
import { planCrowd } from './sale.ts';
import { expectEveryPromiseKept, ownChecks, reportOf, settleAndCheck, writeReport } from './verdict.ts';

/** Each node's wall clock against the true one, seconds. */
const SKEWS = [4, 0, -4] as const;
/**
 * How late an expiry may be past the deadline: a lost timer is caught by the sweep, which takes
 * holds 2 s past their deadline and runs every sweep interval; plus 2 s for a busy machine (2 cores
 * shared with other scenarios). The timer itself fires at the deadline.
 */
const graceMs = (sweepIntervalMs: number) => sweepIntervalMs + 2_000 + 2_000;
/**
 * A deadline minus HOLD_TTL is the moment the hold was placed, on the database's clock: after the
 * purchase was created and before its `held` transition began (both PostgreSQL timestamps), to
 * within this (the node's error in measuring its offset is a few ms; a 4 s skew is far outside).
 */
const DEADLINE_TOLERANCE_MS = 250;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface ObservedClock {
  node: string;
  skewSeconds: number;
  /** The node's wall clock minus the test's, from its Date header (1 s resolution, narrowed over several answers). */
  dateHeaderSkewMs: number;
  /** The database's clock minus the node's, as the node measured it (its metric). */
  measuredOffsetMs: number | null;
}

/**
 * What a node's clock says: each Date header (whole seconds) bounds the node's clock at the moment
 * it answered, which lies between the request and the answer; several answers a bit over a second
 * apart narrow the bounds.
 */
async function observeClock(node: ChaosNode, skewSeconds: number): Promise<ObservedClock> {
  let low = -Infinity;
  let high = Infinity;
  for (let i = 0; i < 9; i++) {
    const sent = Date.now();
    const res = await fetch(`${node.url}/health/live`);
    const received = Date.now();
    await res.arrayBuffer();
    const header = Date.parse(res.headers.get('date') ?? '');
    low = Math.max(low, header - received);
    high = Math.min(high, header + 1_000 - sent);
    await sleep(137);
  }
  const metrics = await (await fetch(`${node.url}/metrics`)).text();
  const offset = /^boxoffice_store_clock_offset_seconds (\S+)$/m.exec(metrics)?.[1];
  return {
    node: node.name,
    skewSeconds,
    dateHeaderSkewMs: Math.round((low + high) / 2),
    measuredOffsetMs: offset === undefined ? null : Math.round(Number(offset) * 1000),
  };
}

interface HoldTiming {
  id: string;
  deadline: number;
  createdAt: number;
  heldAt: number;
  expiredAt: number | null;
}

/** Min, median, 95th percentile and max, rounded to ms. */
function range(values: readonly number[]) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
  return { min: Math.round(sorted[0]!), median: at(0.5), p95: at(0.95), max: Math.round(sorted.at(-1)!) };
}

describe('chaos: clock skew between nodes', () => {
  const scenario = chaosScenario('clock-skew', {
    sale: { standing: 200, seats: 90, buyers: 240 },
    nodeEnvs: async () => {
      const library = await faketimeLibrary();
      return SKEWS.map((s) => skewedClockEnv(library, s));
    },
  });

  it('expires no hold early or late beyond the grace, whichever node placed or expired it', async () => {
    const { stores, nodes, sale } = scenario;
    const startedAt = Date.now();
    const tally = new Tally();
    const env = chaosEnv(stores);
    const HOLD_TTL_MS = Number(env['HOLD_TTL_SECONDS']) * 1000;
    const GRACE_MS = graceMs(Number(env['SWEEP_INTERVAL_SECONDS']) * 1000);

    // The skew is real before anything is trusted: each node's Date header is off by its skew, and
    // each node measured that against the database.
    const clocks = await Promise.all(nodes.map((node, i) => observeClock(node, SKEWS[i]!)));
    for (const clock of clocks) {
      expect(Math.abs(clock.dateHeaderSkewMs - clock.skewSeconds * 1000), JSON.stringify(clock)).toBeLessThan(600);
      expect(clock.measuredOffsetMs, JSON.stringify(clock)).not.toBeNull();
      expect(Math.abs(clock.measuredOffsetMs! + clock.skewSeconds * 1000), JSON.stringify(clock)).toBeLessThan(300);
    }

    // Most buyers hold and walk away (their holds expire); some pay.
    const plans = planCrowd(sale, { rampMs: 6_000, nodes: nodes.length, shares: { pay: 0.3, cancel: 0 } });
    const result = await runSpike({ nodes, plans, tally });
    const checked = await settleAndCheck(stores, sale.events, 25_000);

    const eventIds = sale.events.map((e) => e.eventId);
    const timings = await stores.sql<HoldTiming[]>`
      select p.id, (h.payload->>'deadline')::float8 as deadline,
             extract(epoch from c.at)::float8 * 1000 as "createdAt",
             extract(epoch from h.at)::float8 * 1000 as "heldAt",
             extract(epoch from e.at)::float8 * 1000 as "expiredAt"
      from purchases p
      join purchase_transitions c on c.purchase_id = p.id and c.seq = 1
      join purchase_transitions h on h.purchase_id = p.id and h.to_state = 'held'
      left join purchase_transitions e on e.purchase_id = p.id and e.to_state = 'expired'
      where p.event_id in ${stores.sql(eventIds)}`;
    const placedBy = new Map(result.held.map((h) => [h.purchaseId, h.node]));
    const states = await stores.sql<{ state: string; n: number }[]>`
      select state, count(*)::int as n from purchases where event_id in ${stores.sql(eventIds)} group by state order by state`;

    // Per purchase: where its deadline minus HOLD_TTL falls (after creation, before the held
    // transition), how far that is from the held transition, and its expiry against its deadline.
    const placedAt = (t: HoldTiming) => t.deadline - HOLD_TTL_MS;
    const drift = (t: HoldTiming) => placedAt(t) - t.heldAt;
    const lateness = (t: HoldTiming) => t.expiredAt! - t.deadline;
    const expired = timings.filter((t) => t.expiredAt !== null);
    const early = expired.filter((t) => lateness(t) < 0);
    const tooLate = expired.filter((t) => lateness(t) > GRACE_MS);
    const offDeadlines = timings.filter((t) => placedAt(t) < t.createdAt - DEADLINE_TOLERANCE_MS || placedAt(t) > t.heldAt + DEADLINE_TOLERANCE_MS);
    const told = (t: HoldTiming) =>
      `purchase ${t.id} held on ${placedBy.has(t.id) ? nodes[placedBy.get(t.id)!]!.name : 'an unknown node'}: deadline ${new Date(t.deadline).toISOString()}, ` +
      `created ${new Date(t.createdAt).toISOString()}, held ${new Date(t.heldAt).toISOString()}, expired ${t.expiredAt === null ? '-' : new Date(t.expiredAt).toISOString()}`;

    const perNode = nodes.map((node, i) => {
      const mine = timings.filter((t) => placedBy.get(t.id) === i);
      const mineExpired = mine.filter((t) => t.expiredAt !== null);
      return {
        node: node.name,
        skewSeconds: SKEWS[i],
        held: mine.length,
        expired: mineExpired.length,
        expiredMinusDeadlineMs: range(mineExpired.map(lateness)),
        deadlineMinusTtlMinusHeldMs: range(mine.map(drift)),
      };
    });

    const report = reportOf(
      'clock-skew',
      `node clocks ${SKEWS.map((s) => `${s > 0 ? '+' : ''}${s} s`).join(', ')} (libfaketime) under a 6 s ramp of ${plans.length} buyers, most abandoning their holds`,
      startedAt,
      tally,
      checked,
      {
        skews: clocks,
        holdTtlMs: HOLD_TTL_MS,
        graceMs: GRACE_MS,
        deadlineToleranceMs: DEADLINE_TOLERANCE_MS,
        held: timings.length,
        expired: expired.length,
        states: Object.fromEntries(states.map((s) => [s.state, s.n])),
        expiredMinusDeadlineMs: range(expired.map(lateness)),
        deadlineMinusTtlMinusCreatedMs: range(timings.map((t) => placedAt(t) - t.createdAt)),
        deadlineMinusTtlMinusHeldMs: range(timings.map(drift)),
        perNode,
        nodeErrors: nodes.flatMap((n) => n.errors()).length,
      },
      ...ownChecks({
        never_expired_early: early.slice(0, 10).map(told),
        expired_within_grace: tooLate.slice(0, 10).map(told),
        deadlines_on_database_clock: offDeadlines.slice(0, 10).map(told),
      }),
    );
    await writeReport(report, nodes);

    expectEveryPromiseKept(report);
    // Every node placed holds and saw some of them expire, so every clock was put to the test.
    for (const n of perNode) {
      expect(n.held, n.node).toBeGreaterThan(10);
      expect(n.expired, n.node).toBeGreaterThan(5);
    }
    expect(expired.length).toBeGreaterThan(60);
    expect(nodes.flatMap((n) => n.errors())).toEqual([]);
  });
});
