// The machine-readable result of a run: every figure, the options, the machine, and each promise
// as pass or fail; plus the per-second series (throughput, latency, each process's CPU) the chart
// draws. Written with the Markdown summary and the SVG chart under load-tests/results/.
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, release, totalmem, platform } from 'node:os';
import { join } from 'node:path';
import type { BoxofficeOutcome } from './boxoffice-phase.ts';
import type { naivePhase } from './baseline-phase.ts';
import { ratios } from './baseline-phase.ts';
import { ROOT } from './nodes.ts';
import type { ProcSample } from './proc-stats.ts';
import { SCENARIOS, type Options } from './scenarios.ts';
import { renderChart, renderMarkdown } from './report-markdown.ts';

export const RESULTS_DIR = join(ROOT, 'load-tests', 'results');
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

/** Per process: CPU (share of one core) while the crowd was at it, and the most memory it held. */
function processFigures(samples: Record<string, ProcSample[]>, from: number, to: number) {
  return Object.fromEntries(
    Object.entries(samples).map(([label, list]) => {
      const busy = list.filter((s) => s.at >= from && s.at <= to + 1_000);
      return [label, { cpuPercentMean: round(mean(busy.map((s) => s.cpuPercent))), cpuPercentMax: round(Math.max(0, ...busy.map((s) => s.cpuPercent))), rssMiBMax: round(Math.max(0, ...list.map((s) => s.rssMiB))) }];
    }),
  );
}

/** Per second since t0: the value of each process's sample taken in that second. */
function cpuSeries(samples: Record<string, ProcSample[]>, t0: number, length: number): Record<string, (number | null)[]> {
  return Object.fromEntries(
    Object.entries(samples).map(([label, list]) => {
      const values: (number | null)[] = Array.from({ length }, () => null);
      for (const s of list) {
        const t = Math.floor((s.at - t0) / 1000);
        if (t >= 0 && t < length) values[t] = round(s.cpuPercent);
      }
      return [label, values];
    }),
  );
}

export function buildResult(input: {
  options: Options;
  startedAt: Date;
  boxoffice: BoxofficeOutcome;
  naive: Awaited<ReturnType<typeof naivePhase>> | null;
}) {
  const { options, boxoffice, naive } = input;
  const { series, ...buyers } = boxoffice.buyers;
  const cpu = cpuSeries(boxoffice.processes, boxoffice.t0, series.length);
  const machineBusy = boxoffice.machine.filter((m) => m.at >= boxoffice.t0 && m.at <= boxoffice.buyersEnd).map((m) => m.busyPercent);
  const finishedAt = new Date();
  return {
    name: options.name,
    scenario: options.scenario,
    about: SCENARIOS[options.scenario]?.about ?? '',
    startedAt: input.startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationSeconds: round((finishedAt.getTime() - input.startedAt.getTime()) / 1000),
    options,
    machine: {
      cores: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGiB: round(totalmem() / 2 ** 30),
      node: process.version,
      platform: `${platform()} ${release()}`,
    },
    promises: boxoffice.verdicts.promises,
    findings: boxoffice.verdicts.findings,
    boxoffice: {
      nodes: boxoffice.urls,
      buyers,
      /** The hold (201) as the nodes timed it themselves (their HTTP histogram). */
      serverHoldMs: boxoffice.serverHoldMs,
      broadcastLag: boxoffice.broadcastLag,
      watchers: boxoffice.watchers,
      /** Payers' own sockets (purchase updates), opened before the ramp. */
      payerSockets: boxoffice.payerSockets,
      settle: boxoffice.settle,
      perEvent: boxoffice.verdicts.perEvent,
      processes: processFigures(boxoffice.processes, boxoffice.t0, boxoffice.buyersEnd),
      machineBusyPercentMean: round(mean(machineBusy)),
      generatorCpuSeconds: round(boxoffice.generatorCpuMs / 1000),
      serverLog: boxoffice.serverLog,
    },
    baseline: naive
      ? {
          kind: 'naive',
          buyers: (({ series: _series, ...rest }) => rest)(naive.buyers),
          processes: processFigures(naive.processes, naive.t0, naive.t0 + naive.buyers.series.length * 1000),
          broken: naive.broken,
          ratio: ratios(boxoffice.buyers, naive.buyers),
        }
      : null,
    series: series.map((bucket, t) => ({ ...bucket, cpu: Object.fromEntries(Object.entries(cpu).map(([label, values]) => [label, values[t] ?? null])) })),
    baselineSeries: naive?.buyers.series ?? [],
  };
}

export type Result = ReturnType<typeof buildResult>;

/** Writes <name>.json, <name>.md and <name>.svg; returns their paths. */
export async function writeResult(result: Result, dir = RESULTS_DIR): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const base = join(dir, result.name);
  await writeFile(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
  await writeFile(`${base}.svg`, renderChart(result));
  await writeFile(`${base}.md`, renderMarkdown(result, `${result.name}.svg`));
  return [`${base}.json`, `${base}.md`, `${base}.svg`];
}
