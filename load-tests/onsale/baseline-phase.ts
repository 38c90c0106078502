// The naive baseline (load-tests/baselines/): the same crowd — same buyers, tokens, events, seats
// and arrival instants — against the naive purchase path on the same machine, right after the
// boxoffice phase (whose nodes are stopped by then). Only the hold exists there, so only the hold
// is compared: holds per second and latency, as a ratio boxoffice / naive.
import { naiveBroken, stockNaive } from '../baselines/naive-tables.ts';
import { startNodes, type PhaseContext } from './boxoffice-phase.ts';
import { driveBuyers, forkWorkers, warmUp } from './crowd.ts';
import type { BuyerSummary } from './metrics.ts';
import { summarizeBuyers } from './metrics.ts';
import { nodeEnvironment } from './nodes-env.ts';
import { sampleProcesses } from './proc-stats.ts';

export async function naivePhase(ctx: PhaseContext) {
  const { options, stores, events, plans, hardDeadline, say } = ctx;
  await stockNaive(stores.sql, [...events, ctx.warmup]);
  const nodes = await startNodes(options.nodes, 'load-tests/baselines/naive-purchase.ts', nodeEnvironment(options, stores.urls), '/health');
  const workers = await forkWorkers(options.buyerProcesses, 'naive buyers');
  try {
    await warmUp(nodes.map((n) => n.url), ctx.warmup, plans.map((p) => p.token), options.warmup, false);
    say(`naive baseline: ${nodes.length} node(s); the same ${plans.length} buyers, holds only`);
    const sampler = sampleProcesses(Object.fromEntries(nodes.map((n, i) => [`naive node ${i + 1}`, n.pid ?? 0])));
    const drive = await driveBuyers(workers, plans, {
      urls: nodes.map((n) => n.url),
      deadline: Math.min(hardDeadline - 10_000, Date.now() + 2_000 + options.rampSeconds * 1000 + 2 * options.requestTimeoutMs),
      requestTimeoutMs: options.requestTimeoutMs,
      confirmTimeoutMs: options.confirmTimeoutMs,
      holdOnly: true,
      confirmVia: 'poll',
      waitingRoom: false,
    });
    sampler.stop();
    const buyers = summarizeBuyers(drive.records, drive.t0);
    say(`naive baseline: ${buyers.held} held (${buyers.holdsPerSecond}/s), hold p99 ${buyers.latencyMs.hold.p99} ms`);
    const broken = await naiveBroken(stores.sql, events.map((e) => e.ticketTypeId));
    return { buyers, t0: drive.t0, processes: sampler.processes(), broken };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

/** boxoffice / naive: above 1 boxoffice holds faster; for p99 below 1 boxoffice answers sooner. */
export function ratios(boxoffice: BuyerSummary, naive: BuyerSummary) {
  const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 100) / 100 : null);
  return {
    holdsPerSecond: ratio(boxoffice.holdsPerSecond, naive.holdsPerSecond),
    holdAnswersPerSecond: ratio(boxoffice.holdAnswersPerSecond, naive.holdAnswersPerSecond),
    holdP50: ratio(boxoffice.latencyMs.hold.p50, naive.latencyMs.hold.p50),
    holdP99: ratio(boxoffice.latencyMs.hold.p99, naive.latencyMs.hold.p99),
  };
}
