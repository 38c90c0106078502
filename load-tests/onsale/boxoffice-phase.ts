// The main phase of a run: boxoffice nodes (started, or targeted), watchers opened, the crowd
// driven through its ramp, then — once every hold has had its TTL and the sweep its turn — the
// promises checked and the watchers asked whether they ended on the true counts.
import { broadcastLag, summarizeBuyers } from './metrics.ts';
import { driveBuyers, forkWorkers, openWatchers, warmUp } from './crowd.ts';
import { createHttpClient } from './http-client.ts';
import { startNode, targetNodes, type RunningNode } from './nodes.ts';
import { nodeEnvironment } from './nodes-env.ts';
import type { BuyerPlan, SaleEvent } from './plan.ts';
import { sampleProcesses } from './proc-stats.ts';
import { gauge, readMetrics, serverHoldLatency } from './server-metrics.ts';
import { checkPromises, lastHoldDeadline, staleWatchers, waitSettled, withFinding } from './promises.ts';
import type { Options } from './scenarios.ts';
import type { Stores } from './stores.ts';
import { flagHighDemand, waitingRoomServed } from './waiting-room.ts';

export interface PhaseContext {
  options: Options;
  stores: Stores;
  events: SaleEvent[];
  /** A standing event to warm the nodes up on; checked with the others. */
  warmup: SaleEvent;
  plans: BuyerPlan[];
  /** Epoch ms by which everything must be over (the run's hard timeout). */
  hardDeadline: number;
  say: (line: string) => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts `count` nodes of `script` at once; all or none. */
export async function startNodes(count: number, script: string, env: Record<string, string>, readyPath: string): Promise<RunningNode[]> {
  const started = await Promise.allSettled(Array.from({ length: count }, () => startNode(script, env, readyPath)));
  const nodes = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failure = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw failure.reason;
  }
  return nodes;
}

export async function boxofficePhase(ctx: PhaseContext) {
  const { options, stores, events, plans, hardDeadline, say } = ctx;
  const eventIds = events.map((e) => e.eventId);
  const checked = [...events, ctx.warmup];
  const nodes = options.target.length
    ? targetNodes(options.target)
    : await startNodes(options.nodes, 'server/main.ts', nodeEnvironment(options, stores.urls), '/health/ready');
  const urls = nodes.map((n) => n.url);
  say(`boxoffice: ${nodes.length} node(s) ready: ${urls.join(', ')}`);
  let watchers: Awaited<ReturnType<typeof openWatchers>> | null = null;
  const buyerWorkers = await forkWorkers(options.buyerProcesses, 'buyers');
  try {
    if (options.waitingRoom) {
      const probe = createHttpClient({ timeoutMs: 10_000, maxSockets: 4 });
      const served = (await flagHighDemand(stores.sql, eventIds)) && (await waitingRoomServed(probe, urls[0]!, eventIds[0]!, plans[0]!.token));
      probe.close();
      if (!served) throw new Error('the waiting-room scenario needs the waiting room (events.high_demand and /api/v1/events/:id/waiting-room); this build has none');
    }
    await warmUp(urls, ctx.warmup, plans.map((p) => p.token), options.warmup, true);
    watchers = await openWatchers(options.watchers, options.watcherProcesses, urls, eventIds, Math.min(hardDeadline, Date.now() + 120_000));
    if (options.watchers) say(`watchers: ${watchers.connected} watching, ${watchers.failed} failed to connect`);

    const pids = Object.fromEntries([
      ...nodes.flatMap((n, i) => (n.pid ? [[`node ${i + 1}`, n.pid] as const] : [])),
      ...[...buyerWorkers, ...watchers.workers].map((w, i) => [`generator ${i + 1}`, w.pid] as const),
    ]);
    const sampler = sampleProcesses(pids);
    const [thinkMin, thinkMax] = options.thinkMs;
    // Room for opening the payers' sockets (at most a minute), the ramp, thinking, paying, confirming.
    const buyersDeadline = Math.min(
      hardDeadline - 30_000,
      Date.now() + 62_000 + options.rampSeconds * 1000 + thinkMax + options.confirmTimeoutMs + 2 * options.requestTimeoutMs + (options.waitingRoom ? 300_000 : 0),
    );
    let metricsBefore: string[] = [];
    const drive = await driveBuyers(buyerWorkers, plans, {
      urls,
      deadline: buyersDeadline,
      requestTimeoutMs: options.requestTimeoutMs,
      confirmTimeoutMs: options.confirmTimeoutMs,
      holdOnly: false,
      confirmVia: options.confirmVia,
      waitingRoom: options.waitingRoom,
      onReady: async (sockets) => {
        if (options.confirmVia === 'socket') say(`payers' own sockets (open before the sale): ${sockets.open} open, ${sockets.failed} failed`);
        await watchers!.resetArrivals();
        metricsBefore = await Promise.all(urls.map(readMetrics));
        say(`boxoffice: ${plans.length} buyers arriving within ${options.rampSeconds} s (think ${thinkMin}-${thinkMax} ms)`);
      },
    });
    const buyersEnd = Date.now();
    const buyers = summarizeBuyers(drive.records, drive.t0);
    say(`boxoffice: ${buyers.held} held (${buyers.holdsPerSecond}/s), ${buyers.confirmed} confirmed, errors ${JSON.stringify(buyers.errors)}`);

    // Every purchase must end by itself within the TTL and a bounded grace: its timer at the
    // deadline, the sweep soon after, a late payment claiming its units again or refunded.
    const checkedIds = checked.map((e) => e.eventId);
    const grace = Math.max(options.graceSeconds, 2 * options.sweepSeconds + 5) * 1000;
    const settleBy = Math.min(hardDeadline - 15_000, Math.max(await lastHoldDeadline(stores.sql, checkedIds), buyersEnd) + grace);
    say(`waiting for every purchase to end (TTL ${options.holdTtlSeconds} s, sweep every ${options.sweepSeconds} s; at most ${Math.max(0, Math.round((settleBy - Date.now()) / 1000))} s)`);
    const waitStart = Date.now();
    const settle = await waitSettled(stores.sql, checkedIds, settleBy);
    const settleSeconds = Math.round((Date.now() - waitStart) / 100) / 10;

    const serverErrors = [
      ...Object.entries(buyers.errors).filter(([kind]) => /http_5\d\d/.test(kind)).map(([kind, n]) => `${n} x ${kind}`),
      ...nodes.flatMap((n, i) => (n.exited() ? [`node ${i + 1} exited during the run:\n${n.tail().slice(-2000)}`] : [])),
    ];
    const metrics = await Promise.all(urls.map(readMetrics));
    const verdicts = await checkPromises({
      sql: stores.sql,
      redis: stores.redis,
      keyPrefix: stores.config.redis.keyPrefix,
      events: checked,
      records: drive.records,
      settle,
      serverErrors,
      paidWithoutTicketMetric: gauge(metrics[0] ?? '', 'boxoffice_paid_without_ticket_or_refund'),
    });

    // The storm is over: every watcher should show the truth (bounded wait for the last update).
    let report = await watchers.report();
    let stale = staleWatchers(report.views, verdicts.truth);
    for (const until = Date.now() + 10_000; stale.length && Date.now() < until; ) {
      await sleep(500);
      report = await watchers.report();
      stale = staleWatchers(report.views, verdicts.truth);
    }
    sampler.stop();
    return {
      urls,
      t0: drive.t0,
      buyersEnd,
      records: drive.records,
      buyers,
      serverHoldMs: serverHoldLatency(metrics, metricsBefore),
      generatorCpuMs: drive.generatorCpuMs,
      payerSockets: drive.sockets,
      watchers: { wanted: options.watchers, connected: report.connected, failed: report.failed, disconnected: report.disconnected, resyncs: report.resyncs, stale: stale.length },
      broadcastLag: broadcastLag(report.arrivals, watchers.watchersOf),
      settle: { ...settle, waitedSeconds: settleSeconds },
      verdicts: options.watchers > 0 ? withFinding(verdicts, 'watchers_not_stale', stale) : verdicts,
      processes: sampler.processes(),
      machine: sampler.machine(),
      serverLog: nodes.map((n) => n.logCounts()),
    };
  } finally {
    await Promise.all([watchers?.stop(), ...buyerWorkers.map((w) => w.stop())]);
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

export type BoxofficeOutcome = Awaited<ReturnType<typeof boxofficePhase>>;
