// Server nodes of a chaos scenario: real `server/main.ts` processes on loopback ports over the
// scenario's stores, each with its queue workers and sweep, as `npm run cluster` runs them. A node
// can be killed outright; its log (warnings and above) is kept for the report.
import { freePort } from '../../server/local/system.ts';
import { benchEnv } from '../../load-tests/harness.ts';
import { spawnScript, waitReady, type Spawned } from '../helpers/processes.ts';
import type { ChaosStores } from './stores.ts';
import { KEY_PREFIX } from './stores.ts';

export interface ChaosNode {
  name: string;
  url: string;
  api: string;
  alive(): boolean;
  kill(signal: NodeJS.Signals): Promise<number | null>;
  /** Error-level log lines (pino JSON, level >= 50). */
  errors(): string[];
  output(): string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How long a hold lasts in the scenarios. */
export const HOLD_TTL_SECONDS = 8;

/** The environment every node of a scenario shares: limits lifted, short holds, a quick sweep. */
export function chaosEnv(stores: ChaosStores, extra: Record<string, string> = {}): Record<string, string> {
  return benchEnv(
    { postgres: stores.postgresUrl, redis: stores.redisUrl },
    {
      // CHAOS_LOG_LEVEL=info keeps every node's full log in the report (when a scenario fails).
      LOG_LEVEL: process.env['CHAOS_LOG_LEVEL'] ?? 'warn',
      REDIS_KEY_PREFIX: KEY_PREFIX,
      HOLD_TTL_SECONDS: String(HOLD_TTL_SECONDS),
      HOLD_GRACE_SECONDS: '60',
      SWEEP_INTERVAL_SECONDS: '2',
      PAYMENT_RECONCILE_AFTER_SECONDS: '3',
      LIVE_MAX_CONNECTIONS_PER_IP: '5000',
      SCANNER_ADMIT_FROM_HOURS: '2000',
      SCANNER_MESSAGES_PER_SECOND: '1000',
      DATABASE_POOL_MAX: '8',
      ...extra,
    },
  );
}

/** Starts one node per entry of `extras` (its own extra environment), all ready or none. */
export async function startNodes(stores: ChaosStores, extras: readonly Record<string, string>[]): Promise<ChaosNode[]> {
  const started = await Promise.allSettled(
    extras.map(async (extra, i) => {
      const port = await freePort();
      const proc = spawnScript('server/main.ts', [], { ...chaosEnv(stores, extra), HOST: '127.0.0.1', PORT: String(port) });
      let exited = false;
      void proc.exit.then(() => (exited = true));
      const url = `http://127.0.0.1:${port}`;
      const node = chaosNode(`node ${i + 1}`, url, proc, () => !exited);
      if ((await waitReady(`${url}/health/ready`, () => exited)) !== 200) {
        proc.kill('SIGKILL');
        throw new Error(`${node.name} did not get ready:\n${proc.output().slice(-3000)}`);
      }
      return node;
    }),
  );
  const nodes = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await stopNodes(nodes);
    throw failed.reason;
  }
  return nodes;
}

function chaosNode(name: string, url: string, proc: Spawned, alive: () => boolean): ChaosNode {
  return {
    name,
    url,
    api: `${url}/api/v1`,
    alive,
    async kill(signal) {
      if (alive()) proc.kill(signal);
      return proc.exit;
    },
    errors: () =>
      proc
        .output()
        .split('\n')
        .filter((line) => /^\{.*"level":(5\d|6\d)/.test(line)),
    output: proc.output,
  };
}

/** SIGTERM (a graceful stop) to every live node; a node that hangs is killed after 20 s. */
export async function stopNodes(nodes: readonly ChaosNode[]): Promise<void> {
  await Promise.all(
    nodes.map(async (node) => {
      if (!node.alive()) return;
      const timer = setTimeout(() => void node.kill('SIGKILL'), 20_000);
      await node.kill('SIGTERM');
      clearTimeout(timer);
    }),
  );
}

/** /health/ready of each node now (0: no answer). */
export async function readiness(nodes: readonly ChaosNode[]): Promise<number[]> {
  return Promise.all(
    nodes.map(async (node) => {
      try {
        const res = await fetch(`${node.url}/health/ready`, { signal: AbortSignal.timeout(5_000) });
        await res.arrayBuffer();
        return res.status;
      } catch {
        return 0;
      }
    }),
  );
}

/** Waits (bounded) until every node is ready; ms it took, or null if they were not by `withinMs`. */
export async function waitAllReady(nodes: readonly ChaosNode[], withinMs: number): Promise<number | null> {
  const from = Date.now();
  while (Date.now() - from < withinMs) {
    if ((await readiness(nodes)).every((s) => s === 200)) return Date.now() - from;
    await sleep(250);
  }
  return null;
}

/** The readiness answers the nodes gave while polled for `forMs` (every 200 ms): a store is down meanwhile. */
export async function readinessWhileDown(nodes: readonly ChaosNode[], forMs: number): Promise<Set<number>> {
  const seen = new Set<number>();
  const since = Date.now();
  do {
    for (const status of await readiness(nodes)) seen.add(status);
    await sleep(200);
  } while (Date.now() - since < forMs);
  return seen;
}
