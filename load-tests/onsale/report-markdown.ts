// The human summary of a run (Markdown) and its chart: throughput, hold latency and CPU per
// second, boxoffice and (when run) the naive baseline on the same time axis.
import { chartSvg, PALETTE, type Panel } from './chart-svg.ts';
import type { Latency } from './metrics.ts';
import type { Result } from './report-json.ts';

const row = (cells: readonly (string | number | null)[]) => `| ${cells.map((c) => (c === null ? '—' : String(c))).join(' | ')} |`;
const latencyRow = (label: string, l: Latency) => row([label, l.p50, l.p95, l.p99, l.max, l.count]);
const serverRow = (s: Result['boxoffice']['serverHoldMs']) => {
  const shown = (v: number | null) => (v === null && s.count ? `> ${s.lastBucketMs}` : v);
  return row(['hold (201) as the nodes timed it', shown(s.p50), shown(s.p95), shown(s.p99), null, s.count]);
};

export function renderChart(result: Result): string {
  const series = result.series;
  const panels: Panel[] = [
    {
      title: 'Throughput',
      unit: 'per second',
      series: [
        { label: 'holds', color: PALETTE[0]!, values: series.map((b) => b.holds) },
        { label: 'confirms', color: PALETTE[1]!, values: series.map((b) => b.confirms) },
        { label: 'refusals', color: PALETTE[7]!, values: series.map((b) => b.refusals) },
        { label: 'errors', color: PALETTE[2]!, values: series.map((b) => b.errors) },
        ...(result.baselineSeries.length ? [{ label: 'naive holds', color: PALETTE[3]!, values: result.baselineSeries.map((b) => b.holds) }] : []),
      ],
    },
    {
      title: 'Hold latency',
      unit: 'ms',
      series: [
        { label: 'p50', color: PALETTE[0]!, values: series.map((b) => (b.holds ? b.holdP50 : null)) },
        { label: 'p99', color: PALETTE[4]!, values: series.map((b) => (b.holds ? b.holdP99 : null)) },
        ...(result.baselineSeries.length ? [{ label: 'naive p99', color: PALETTE[3]!, values: result.baselineSeries.map((b) => (b.holds ? b.holdP99 : null)) }] : []),
      ],
    },
  ];
  const labels = Object.keys(series[0]?.cpu ?? {});
  if (labels.length) {
    panels.push({
      title: 'CPU',
      unit: '% of one core',
      series: labels.map((label, i) => ({ label, color: PALETTE[(i + 5) % PALETTE.length]!, values: series.map((b) => b.cpu[label] ?? null) })),
    });
  }
  return chartSvg(`${result.name}: seconds since the ramp started`, panels);
}

export function renderMarkdown(result: Result, chartFile: string): string {
  const b = result.boxoffice.buyers;
  const o = result.options;
  const lines: string[] = [
    `# On-sale load test: ${result.name}`,
    '',
    `Scenario \`${result.scenario}\`: ${result.about}.`,
    `Run ${result.startedAt} for ${result.durationSeconds} s on ${result.machine.cores} cores (${result.machine.cpuModel}), ${result.machine.memoryGiB} GiB, Node ${result.machine.node}; ` +
      `${o.target.length ? `nodes at ${o.target.join(', ')}` : `${o.nodes} node(s)`}, load generator, PostgreSQL and Redis on the same machine.`,
    '',
    `${o.buyers} buyers within ${o.rampSeconds} s for ${o.events} event(s) of ${o.capacity} (${o.kinds.join(', ')}), ${o.watchers} watchers; ` +
      `abandon ${o.abandon}, cancel ${o.cancel}, fail ${o.fail}, the rest pay after ${o.thinkMs[0]}-${o.thinkMs[1]} ms; hold TTL ${o.holdTtlSeconds} s.`,
    '',
    '## Promises',
    '',
    row(['promise', 'result']),
    row(['---', '---']),
    ...Object.entries(result.promises).map(([name, verdict]) => row([`\`${name}\``, verdict === 'pass' ? 'pass' : '**FAIL**'])),
    '',
    ...Object.entries(result.findings).flatMap(([name, list]) => [`- \`${name}\`: ${list.slice(0, 5).join('; ')}`]),
    '',
    '## Throughput',
    '',
    row(['figure', 'value']),
    row(['---', '---']),
    row(['hold requests / held', `${b.holdRequests} / ${b.held}`]),
    row(['refused', Object.entries(b.refused).map(([k, n]) => `${k} ${n}`).join(', ') || 'none']),
    row(['holds/s (first request to last hold) / peak second', `${b.holdsPerSecond} / ${b.peakHoldsPerSecond}`]),
    row(['hold answers/s (201 and 409)', b.holdAnswersPerSecond]),
    row(['hold p99 per second (seconds with 5+ holds): lowest / highest', `${b.holdP99BySecond.min} / ${b.holdP99BySecond.max} ms`]),
    row(['confirmed / confirms/s / peak second', `${b.confirmed} / ${b.confirmsPerSecond} / ${b.peakConfirmsPerSecond}`]),
    row(['confirmations seen via', Object.entries(b.confirmedVia).map(([k, n]) => `${k} ${n}`).join(', ') || '—']),
    row(['errors', Object.entries(b.errors).map(([k, n]) => `${k} ${n}`).join(', ') || 'none']),
    row(['every hold ended after', `${result.boxoffice.settle.waitedSeconds} s of waiting (settled: ${result.boxoffice.settle.settled})`]),
    '',
    '## Latency (ms)',
    '',
    row(['step', 'p50', 'p95', 'p99', 'max', 'n']),
    row(['---', '---', '---', '---', '---', '---']),
    latencyRow('hold (201)', b.latencyMs.hold),
    serverRow(result.boxoffice.serverHoldMs),
    latencyRow('hold refused (409)', b.latencyMs.holdRefused),
    latencyRow('pay (sandbox succeed accepted)', b.latencyMs.pay),
    latencyRow('confirm (pay accepted -> confirmed seen)', b.latencyMs.confirm),
    ...(b.latencyMs.admission.count ? [latencyRow('waiting room (arrival -> admitted)', b.latencyMs.admission)] : []),
    latencyRow('broadcast: change -> last watcher', result.boxoffice.broadcastLag.lastWatcherMs),
    latencyRow('broadcast: change -> first watcher', result.boxoffice.broadcastLag.firstWatcherMs),
    '',
    `Watchers: ${result.boxoffice.watchers.connected} of ${result.boxoffice.watchers.wanted} connected, ${result.boxoffice.broadcastLag.updates} updates, ` +
      `delivered ${result.boxoffice.broadcastLag.delivered} of (updates x watchers), ${result.boxoffice.watchers.resyncs} re-syncs after a gap, ${result.boxoffice.watchers.stale} groups stale at the end.`,
    '',
  ];
  if (result.baseline) {
    const n = result.baseline.buyers;
    const r = result.baseline.ratio;
    lines.push(
      '## Naive baseline',
      '',
      'The same buyers and arrival instants against `load-tests/baselines/naive-purchase.ts` (one transaction per purchase: `SELECT ... FOR UPDATE` on the ticket type, decrement, insert), holds only.',
      '',
      row(['figure', 'boxoffice', 'naive', 'boxoffice / naive']),
      row(['---', '---', '---', '---']),
      row(['holds/s', b.holdsPerSecond, n.holdsPerSecond, r.holdsPerSecond]),
      row(['hold answers/s', b.holdAnswersPerSecond, n.holdAnswersPerSecond, r.holdAnswersPerSecond]),
      row(['hold p50 (ms)', b.latencyMs.hold.p50, n.latencyMs.hold.p50, r.holdP50]),
      row(['hold p99 (ms)', b.latencyMs.hold.p99, n.latencyMs.hold.p99, r.holdP99]),
      row(['held', b.held, n.held, null]),
      '',
      result.baseline.broken.length ? `Baseline problems: ${result.baseline.broken.join('; ')}` : 'The baseline sold no more than its capacity either.',
      '',
    );
  }
  lines.push('## Processes', '', row(['process', 'CPU mean (% of a core)', 'CPU max', 'RSS max (MiB)']), row(['---', '---', '---', '---']));
  for (const [label, p] of Object.entries({ ...result.boxoffice.processes, ...(result.baseline?.processes ?? {}) })) {
    lines.push(row([label, p.cpuPercentMean, p.cpuPercentMax, p.rssMiBMax]));
  }
  lines.push('', `Whole machine busy during the ramp and after: ${result.boxoffice.machineBusyPercentMean} % of all cores.`, '');
  lines.push(`![throughput, latency and CPU over time](${chartFile})`, '', `Every figure: \`${result.name}.json\`.`, '');
  return lines.join('\n');
}
