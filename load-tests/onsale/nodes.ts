// Server nodes as child processes on loopback (boxoffice's server/main.ts, or the naive baseline),
// each on a free port, waited for until ready; or nodes already running (--target). A node's log
// (warn and above) is kept: its tail for a failure report, its messages counted for the results.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../server/local/system.ts';
import { stopChild, track } from './children.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TAIL_BYTES = 32 * 1024;

export interface RunningNode {
  url: string;
  /** The process (null for a node we only aim at): its CPU and memory are sampled. */
  pid: number | null;
  exited(): boolean;
  tail(): string;
  /** Log lines by level and message, e.g. `warn: purchase effect failed`. */
  logCounts(): Record<string, number>;
  stop(): Promise<void>;
}

function countLine(counts: Record<string, number>, line: string): void {
  if (!line.startsWith('{')) return;
  try {
    const entry = JSON.parse(line) as { level?: number | string; msg?: string };
    const level = typeof entry.level === 'number' ? ({ 40: 'warn', 50: 'error', 60: 'fatal' } as Record<number, string>)[entry.level] ?? String(entry.level) : entry.level;
    const key = `${level}: ${entry.msg ?? ''}`.slice(0, 120);
    counts[key] = (counts[key] ?? 0) + 1;
  } catch {
    // not a log line
  }
}

/** Starts `script` (tsx) on a free port with `env`; resolves once `readyPath` answers 200 (bounded). */
export async function startNode(script: string, env: Record<string, string>, readyPath: string, timeoutMs = 60_000): Promise<RunningNode> {
  const port = await freePort();
  const child = track(
    spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: ROOT,
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', ...env, HOST: '127.0.0.1', PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let tail = '';
  let partial = '';
  const counts: Record<string, number> = {};
  const collect = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    tail = (tail + text).slice(-TAIL_BYTES);
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) countLine(counts, line);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  let exited = false;
  child.once('exit', () => (exited = true));
  const url = `http://127.0.0.1:${port}`;
  const node: RunningNode = {
    url,
    pid: child.pid ?? null,
    exited: () => exited,
    tail: () => tail,
    logCounts: () => ({ ...counts }),
    stop: () => stopChild(child, 15_000),
  };
  const until = Date.now() + timeoutMs;
  while (Date.now() < until && !exited) {
    const status = await fetch(`${url}${readyPath}`, { signal: AbortSignal.timeout(2_000) }).then(
      (res) => res.arrayBuffer().then(() => res.status),
      () => 0,
    );
    if (status === 200) return node;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await node.stop();
  throw new Error(`${script} on port ${port} did not get ready${exited ? ' (it exited)' : ''}:\n${tail.slice(-4000)}`);
}

/** Nodes already running: nothing to start, stop or sample. */
export function targetNodes(urls: readonly string[]): RunningNode[] {
  return urls.map((url) => ({ url, pid: null, exited: () => false, tail: () => '', logCounts: () => ({}), stop: async () => {} }));
}
