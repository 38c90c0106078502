// The end of a chaos scenario: wait (bounded) until every purchase has ended and no effect is
// pending, then check each promise of DESIGN.md on the events' facts (the same facts the
// integration tests and the load test read), and write the scenario's report: operations
// attempted, succeeded, failed cleanly and badly, each promise pass or fail, and what was seen.
import { mkdir, writeFile } from 'node:fs/promises';
import { expect } from 'vitest';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { createInventory } from '../../server/inventory/index.ts';
import { producerOptions } from '../../server/jobs/index.ts';
import { HOLD_TIMER_QUEUE } from '../../server/purchases/timers.ts';
import { brokenPromises, eventFacts } from '../../server/purchases/promises.ts';
import { databaseActivity, waitSettled } from '../../load-tests/onsale/promises.ts';
import { RELAY_AFTER_MS } from '../../server/purchases/index.ts';
import { ROOT } from '../../load-tests/onsale/nodes.ts';
import type { OperationKind, OperationTally, Tally } from './crowd.ts';
import type { ChaosStores } from './stores.ts';
import { KEY_PREFIX } from './stores.ts';
import { HOLD_TTL_SECONDS } from './nodes.ts';
import type { WatcherView } from './watchers.ts';

export interface ChaosEvent {
  eventId: string;
  ticketTypeId: string;
  capacity: number;
  seatIds: string[];
}

export type Verdicts = Record<string, 'pass' | 'fail'>;

export interface Checked {
  verdicts: Verdicts;
  findings: Record<string, string[]>;
  /** What a watcher of each event should show now. */
  truth: Record<string, WatcherView>;
  sold: number;
}

/** Waits for the sale to settle (every hold's deadline plus `graceMs`), then checks every promise. */
export async function settleAndCheck(stores: ChaosStores, events: readonly ChaosEvent[], graceMs: number): Promise<Checked> {
  const ids = events.map((e) => e.eventId);
  // The bound moves while waiting: a purchase still reserving gets its deadline when its hold is placed.
  let settle = await waitSettled(stores.sql, ids, (await endBound(stores, ids)) + graceMs);
  while (!settle.settled && Date.now() < (await endBound(stores, ids)) + graceMs) {
    settle = await waitSettled(stores.sql, ids, (await endBound(stores, ids)) + graceMs);
  }
  const findings: Record<string, string[]> = {
    no_oversell: [],
    no_leaked_holds: [],
    paid_without_ticket_or_refund: [],
    transitions_replay: [],
    tickets_match_purchases: [],
    redis_counts_true: [],
  };
  if (!settle.settled) {
    findings['no_leaked_holds']!.push(
      `${settle.live} purchases still live and ${settle.pending} effects pending after every deadline and ${graceMs} ms`,
      ...(await livePurchases(stores, ids)),
      ...(await databaseActivity(stores.sql)).map((line) => `database: ${line}`),
    );
  }
  const inventory = createInventory(stores.redis, KEY_PREFIX);
  const truth: Record<string, WatcherView> = {};
  let sold = 0;
  for (const event of events) {
    const facts = await eventFacts(stores.sql, event.eventId, { client: stores.redis, keyPrefix: KEY_PREFIX });
    for (const [name, broken] of Object.entries(brokenPromises(facts))) findings[name === 'released_holds_gone' ? 'no_leaked_holds' : name]!.push(...broken);
    const type = facts.types.find((t) => t.id === event.ticketTypeId)!;
    sold += type.sold;
    const available = (await inventory.available(event.eventId, [event.ticketTypeId]))[event.ticketTypeId] ?? null;
    if (available !== type.capacity - type.sold) {
      findings['redis_counts_true']!.push(`event ${event.eventId}: Redis says ${available} available; capacity ${type.capacity} - sold ${type.sold} = ${type.capacity - type.sold}`);
    }
    const owners = await inventory.seatOwners(event.eventId, event.seatIds);
    const held = owners.filter((o) => o !== null && !o.startsWith('sold:')).length;
    if (held) findings['no_leaked_holds']!.push(`event ${event.eventId}: ${held} seats still held in Redis`);
    const soldSeats = await stores.sql<{ id: string }[]>`
      select seat_id::text as id from tickets where event_id = ${event.eventId} and seat_id is not null and status = 'valid'`;
    truth[event.eventId] = { eventId: event.eventId, counts: { [event.ticketTypeId]: type.capacity - type.sold }, held: [], sold: soldSeats.map((s) => s.id) };
  }
  const verdicts: Verdicts = Object.fromEntries(Object.entries(findings).map(([name, list]) => [name, list.length ? 'fail' : 'pass']));
  return { verdicts, findings: Object.fromEntries(Object.entries(findings).filter(([, l]) => l.length).map(([n, l]) => [n, l.slice(0, 10)])), truth, sold };
}

/**
 * When the last live purchase must have ended by (promise 2, before the grace): its hold's deadline;
 * or, for one still reserving (its node died before placing the hold and its buyer never retried),
 * the relay's delay after its creation plus a hold's lifetime.
 */
async function endBound(stores: ChaosStores, eventIds: readonly string[]): Promise<number> {
  const [row] = await stores.sql<{ at: Date | null }[]>`
    select max(coalesce(hold_deadline, created_at + make_interval(secs => ${(RELAY_AFTER_MS + HOLD_TTL_SECONDS * 1000) / 1000}))) as at
    from purchases where event_id in ${stores.sql(eventIds)} and state in ('reserving', 'held', 'paying', 'confirming', 'refunding')`;
  return Math.max(row?.at?.getTime() ?? 0, Date.now());
}

/** The purchases that did not end, with their path and what their outbox still has: what a fix needs. */
async function livePurchases(stores: ChaosStores, eventIds: readonly string[]): Promise<string[]> {
  const rows = await stores.sql<{ id: string; state: string; deadline: Date | null; path: string; outbox: string | null }[]>`
    select p.id, p.state, p.hold_deadline as deadline,
           (select string_agg(t.event_type || '>' || t.to_state || ' at ' || to_char(t.at, 'HH24:MI:SS.MS'), ' ' order by t.seq) from purchase_transitions t where t.purchase_id = p.id) as path,
           (select string_agg(o.effect || ' step ' || o.step || ' from ' || to_char(o.created_at, 'HH24:MI:SS.MS') || ' tries ' || o.attempts || coalesce(' done ' || to_char(o.done_at, 'HH24:MI:SS.MS'), ' undone') || coalesce(' err ' || o.last_error, ''), '; ')
              from purchase_outbox o where o.purchase_id = p.id) as outbox
    from purchases p where p.event_id in ${stores.sql(eventIds)} and p.state in ('reserving', 'held', 'paying', 'confirming', 'refunding') limit 5`;
  const timers = new Queue<{ deadline: number }>(HOLD_TIMER_QUEUE, producerOptions({ redis: { kind: 'single', url: stores.redisUrl }, keyPrefix: KEY_PREFIX }, stores.redis, HOLD_TIMER_QUEUE));
  try {
    return await Promise.all(
      rows.map(async (r) => {
        const job = await timers.getJob(`expire-${r.id}`);
        const timer = job ? `${await job.getState()} added ${new Date(job.timestamp).toISOString()} for ${new Date(job.data.deadline).toISOString()}` : 'none';
        return `live purchase ${r.id} ${r.state} (deadline ${r.deadline?.toISOString() ?? '-'}, timer ${timer}): ${r.path}; outbox: ${r.outbox ?? '-'}`;
      }),
    );
  } finally {
    await timers.close();
  }
}

export interface ScenarioReport {
  scenario: string;
  fault: string;
  durationSeconds: number;
  operations: Partial<Record<OperationKind, OperationTally>>;
  totals: OperationTally;
  failedBadly: string[];
  promises: Verdicts;
  findings: Record<string, string[]>;
  /** Figures particular to the scenario (sold, reconnects, webhook outcomes...). */
  seen: Record<string, unknown>;
}

const REPORT_DIR = join(ROOT, 'test-artifacts', 'chaos');

/** Writes `test-artifacts/chaos/<scenario>.json` (and each node's log beside it) and prints one summary line per operation kind. */
export async function writeReport(report: ScenarioReport, nodes: readonly { output(): string }[] = []): Promise<void> {
  await writeNodeLogs(report.scenario, nodes);
  await writeFile(join(REPORT_DIR, `${report.scenario}.json`), `${JSON.stringify(report, null, 2)}\n`);
  const lines = [
    `[chaos ${report.scenario}] ${report.fault} (${report.durationSeconds} s)`,
    ...Object.entries(report.operations).map(
      ([kind, t]) => `  ${kind}: ${t.attempted} attempted, ${t.succeeded} succeeded, ${t.failedCleanly} failed cleanly, ${t.failedBadly} failed badly (tries answered 503: ${t.unavailableTries}, lost connections: ${t.connectionErrors})`,
    ),
    `  promises: ${Object.entries(report.promises).map(([name, v]) => `${name} ${v}`).join(', ')}`,
    `  seen: ${JSON.stringify(report.seen)}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/**
 * A scenario's own checks, as reportOf's last two arguments: a check is a list of what breaks it
 * (kept when empty; the first ten, shortened, become its findings) or a plain pass/fail.
 */
export function ownChecks(checks: Record<string, readonly string[] | boolean>): [Verdicts, Record<string, string[]>] {
  const verdicts: Verdicts = {};
  const findings: Record<string, string[]> = {};
  for (const [name, check] of Object.entries(checks)) {
    const broken = typeof check === 'boolean' ? [] : check;
    verdicts[name] = (typeof check === 'boolean' ? check : broken.length === 0) ? 'pass' : 'fail';
    if (broken.length) findings[name] = broken.slice(0, 10).map((line) => line.slice(0, 400));
  }
  return [verdicts, findings];
}

/** What a scenario that takes a store away asserts besides the promises: refused cleanly meanwhile, every node up and ready after. */
export function expectOutageSurvived(outage: { tally: Tally; downReadiness: ReadonlySet<number>; readyAgainMs: number | null; nodes: readonly { alive(): boolean }[] }): void {
  expect(outage.tally.totals().unavailableTries).toBeGreaterThan(0);
  expect(outage.downReadiness.has(503)).toBe(true);
  expect(outage.readyAgainMs).not.toBeNull();
  expect(outage.nodes.every((n) => n.alive())).toBe(true);
}

/** Each node's log beside the scenario's report (also for a run that never reached its report). */
export async function writeNodeLogs(scenario: string, nodes: readonly { output(): string }[]): Promise<void> {
  await mkdir(REPORT_DIR, { recursive: true });
  await Promise.all(nodes.map((node, i) => writeFile(join(REPORT_DIR, `${scenario}-node-${i + 1}.log`), node.output())));
}

/** What every scenario asserts of its report: nothing failed badly, no finding, every promise kept. */
export function expectEveryPromiseKept(report: ScenarioReport): void {
  expect(report.failedBadly).toEqual([]);
  expect(report.findings).toEqual({});
  expect(Object.values(report.promises).every((v) => v === 'pass'), JSON.stringify(report.promises)).toBe(true);
}

/** A line per phase of a scenario on stderr, timed from `start()`: where a slow or stuck run spent its time. */
export function phaseLog(scenario: string) {
  let startedAt = Date.now();
  const log = (what: string) => process.stderr.write(`[chaos ${scenario}] ${((Date.now() - startedAt) / 1000).toFixed(1)} s: ${what}\n`);
  return Object.assign(log, { start: () => (startedAt = Date.now()) });
}

export function reportOf(scenario: string, fault: string, startedAt: number, tally: Tally, checked: Checked, seen: Record<string, unknown>, extraVerdicts: Verdicts = {}, extraFindings: Record<string, string[]> = {}): ScenarioReport {
  return {
    scenario,
    fault,
    durationSeconds: Math.round((Date.now() - startedAt) / 100) / 10,
    operations: Object.fromEntries(tally.operations),
    totals: tally.totals(),
    failedBadly: tally.badly,
    promises: { ...checked.verdicts, ...extraVerdicts, no_bad_failures: tally.totals().failedBadly === 0 ? 'pass' : 'fail' },
    findings: { ...checked.findings, ...extraFindings },
    seen: { sold: checked.sold, ...seen },
  };
}
