// CPU time and memory of processes, read from /proc (Linux) once a second: per process the share
// of one core used in each interval and its resident memory, plus how busy the whole machine was.
// Where /proc is missing (not Linux) the samples are simply empty.
import { readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux
const PAGE_BYTES = 4096;

export interface ProcSample {
  /** Epoch ms of the sample. */
  at: number;
  /** Share of one core in the interval before this sample, in percent. */
  cpuPercent: number;
  rssMiB: number;
}

function readStat(pid: number): { ticks: number; rssPages: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at field 3 (state).
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ticks: Number(fields[11]) + Number(fields[12]), rssPages: Number(fields[21]) };
  } catch {
    return null;
  }
}

function readMachine(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const values = line.trim().split(/\s+/).slice(1).map(Number);
    const total = values.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - values[3]! - values[4]!, total };
  } catch {
    return null;
  }
}

export interface Sampler {
  /** Per label (e.g. `node 1`), the samples so far. */
  processes(): Record<string, ProcSample[]>;
  /** Busy share of all cores, per second, in percent. */
  machine(): { at: number; busyPercent: number }[];
  stop(): void;
}

/** Samples every labelled pid each `intervalMs` until stopped (bounded by `maxSamples`). */
export function sampleProcesses(pids: Record<string, number>, intervalMs = 1_000, maxSamples = 3_600): Sampler {
  const samples: Record<string, ProcSample[]> = Object.fromEntries(Object.keys(pids).map((label) => [label, []]));
  const machine: { at: number; busyPercent: number }[] = [];
  const last = Object.fromEntries(Object.entries(pids).map(([label, pid]) => [label, readStat(pid)]));
  let lastMachine = readMachine();
  let lastAt = Date.now();
  let taken = 0;
  const timer = setInterval(() => {
    const at = Date.now();
    const seconds = (at - lastAt) / 1000;
    for (const [label, pid] of Object.entries(pids)) {
      const now = readStat(pid);
      const before = last[label];
      if (now && before && seconds > 0) {
        samples[label]!.push({ at, cpuPercent: ((now.ticks - before.ticks) / TICKS_PER_SECOND / seconds) * 100, rssMiB: (now.rssPages * PAGE_BYTES) / 1024 / 1024 });
      }
      last[label] = now;
    }
    const m = readMachine();
    if (m && lastMachine && m.total > lastMachine.total) {
      machine.push({ at, busyPercent: ((m.busy - lastMachine.busy) / (m.total - lastMachine.total)) * 100 });
    }
    lastMachine = m;
    lastAt = at;
    if (++taken >= maxSamples) clearInterval(timer);
  }, intervalMs);
  timer.unref();
  return { processes: () => samples, machine: () => machine, stop: () => clearInterval(timer) };
}
