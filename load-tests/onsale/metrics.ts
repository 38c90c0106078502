// Figures from what the buyers and watchers recorded: latency percentiles, throughput over the
// busy window and per second (the time series the chart draws), errors by kind, broadcast lag.
// Pure: records in, numbers out.
import { REFUSALS, type BuyerRecord } from './buyer.ts';
import type { Arrival } from './watchers.ts';

export interface Latency {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

const round = (n: number) => Math.round(n * 10) / 10;

/** Nearest-rank percentile of ascending values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function latency(values: readonly number[]): Latency {
  const sorted = [...values].sort((a, b) => a - b);
  return { count: sorted.length, p50: round(percentile(sorted, 50)), p95: round(percentile(sorted, 95)), p99: round(percentile(sorted, 99)), max: round(sorted.at(-1) ?? 0) };
}

export interface Bucket {
  /** Second since the ramp started. */
  t: number;
  holds: number;
  refusals: number;
  confirms: number;
  errors: number;
  holdP50: number;
  holdP99: number;
}

/** Per-second buckets from the ramp start to the last recorded step (bounded to `maxSeconds`). */
export function timeSeries(records: readonly BuyerRecord[], t0: number, maxSeconds = 900): Bucket[] {
  const second = (at: number) => Math.max(0, Math.floor((at - t0) / 1000));
  const ends = records.flatMap((r) => [r.holdEnd, r.actEnd ?? 0, r.confirmedAt ?? 0]).filter((t) => t > 0);
  const length = Math.min(maxSeconds, ends.length ? second(Math.max(...ends)) + 1 : 0);
  const buckets = Array.from({ length }, (_, t) => ({ t, holds: 0, refusals: 0, confirms: 0, errors: 0, latencies: [] as number[] }));
  const at = (time: number) => buckets[Math.min(length - 1, second(time))];
  for (const r of records) {
    if (r.holdEnd > 0) {
      const b = at(r.holdEnd);
      if (b && r.hold === 'held') {
        b.holds++;
        b.latencies.push(r.holdEnd - r.holdStart);
      } else if (b && REFUSALS.has(r.hold)) b.refusals++;
    }
    if (r.confirmedAt) {
      const b = at(r.confirmedAt);
      if (b) b.confirms++;
    }
    if (r.errors.length) {
      const b = at(r.actEnd ?? r.holdEnd);
      if (b) b.errors += r.errors.length;
    }
  }
  return buckets.map(({ latencies, ...b }) => {
    const sorted = latencies.sort((x, y) => x - y);
    return { ...b, holdP50: round(percentile(sorted, 50)), holdP99: round(percentile(sorted, 99)) };
  });
}

/** Events per second over the window from the first start to the last end (0 when empty). */
function rate(count: number, starts: readonly number[], ends: readonly number[]): number {
  if (!count || !starts.length || !ends.length) return 0;
  const seconds = (Math.max(...ends) - Math.min(...starts)) / 1000;
  return seconds > 0 ? round(count / seconds) : 0;
}

export function tally(items: Iterable<string>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[item] = (counts[item] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).sort(([, a], [, b]) => b - a));
}

function spread(values: readonly number[]): { min: number; max: number } {
  return values.length ? { min: Math.min(...values), max: Math.max(...values) } : { min: 0, max: 0 };
}

export function summarizeBuyers(records: readonly BuyerRecord[], t0: number) {
  const sent = records.filter((r) => r.holdStart > 0);
  const held = sent.filter((r) => r.hold === 'held');
  const refused = sent.filter((r) => REFUSALS.has(r.hold));
  const payers = held.filter((r) => r.outcome === 'pay' && r.actStatus === 200);
  const confirmed = payers.filter((r) => r.confirmedAt !== null);
  const series = timeSeries(records, t0);
  return {
    holdRequests: sent.length,
    held: held.length,
    refused: tally(refused.map((r) => r.hold)),
    holdsPerSecond: rate(held.length, sent.map((r) => r.holdStart), held.map((r) => r.holdEnd)),
    holdAnswersPerSecond: rate(sent.length, sent.map((r) => r.holdStart), sent.map((r) => r.holdEnd)),
    peakHoldsPerSecond: Math.max(0, ...series.map((b) => b.holds)),
    confirmed: confirmed.length,
    confirmsPerSecond: rate(confirmed.length, payers.map((r) => r.actStart!), confirmed.map((r) => r.confirmedAt!)),
    peakConfirmsPerSecond: Math.max(0, ...series.map((b) => b.confirms)),
    confirmedVia: tally(confirmed.map((r) => r.confirmedVia ?? 'unknown')),
    latencyMs: {
      hold: latency(held.map((r) => r.holdEnd - r.holdStart)),
      holdRefused: latency(refused.map((r) => r.holdEnd - r.holdStart)),
      pay: latency(payers.map((r) => r.actEnd! - r.actStart!)),
      confirm: latency(confirmed.map((r) => r.confirmedAt! - r.actEnd!)),
      /** Arrival to admission by the waiting room (empty without one). */
      admission: latency(records.filter((r) => r.admittedAt !== null).map((r) => r.admittedAt! - r.arrivedAt)),
    },
    /** How flat hold p99 stayed: the lowest and highest p99 of the seconds with at least 5 holds. */
    holdP99BySecond: spread(series.filter((b) => b.holds >= 5).map((b) => b.holdP99)),
    outcomes: tally(records.map((r) => `${r.outcome}: ${r.hold === 'held' ? (r.finalState ?? 'held') : r.hold}`)),
    errors: tally(records.flatMap((r) => r.errors)),
    series,
  };
}

export type BuyerSummary = ReturnType<typeof summarizeBuyers>;

/**
 * Broadcast lag: for each update (event, version), from its oldest change on the server (`since`,
 * a hold or release placed just before its transition commits) to its arrival at the last of the
 * event's watchers; and how many of the watchers got it.
 */
export function broadcastLag(arrivals: readonly Arrival[], watchersOf: Readonly<Record<string, number>>) {
  const merged = new Map<string, Arrival>();
  for (const a of arrivals) {
    const key = `${a.eventId}:${a.version}`;
    const seen = merged.get(key);
    if (seen) merged.set(key, { ...seen, first: Math.min(seen.first, a.first), last: Math.max(seen.last, a.last), receipts: seen.receipts + a.receipts });
    else merged.set(key, { ...a });
  }
  const updates = [...merged.values()];
  const expected = updates.reduce((sum, u) => sum + (watchersOf[u.eventId] ?? 0), 0);
  const received = updates.reduce((sum, u) => sum + u.receipts, 0);
  return {
    updates: updates.length,
    lastWatcherMs: latency(updates.map((u) => u.last - u.since)),
    firstWatcherMs: latency(updates.map((u) => u.first - u.since)),
    /** Receipts over (updates x the event's watchers): 1 when every watcher got every update. */
    delivered: expected ? round((received / expected) * 1000) / 1000 : 1,
  };
}
