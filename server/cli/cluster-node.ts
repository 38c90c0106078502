// One node of `npm run cluster`: server/main.ts as a child process on its own port, waited for until
// /health/ready answers, restarted (a bounded number of times) when it dies without being asked to,
// and stopped on request (its signal, then SIGKILL after a grace period).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../observability/index.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** As `npm run serve` runs it: OpenTelemetry first, then the entry point. */
const NODE_ARGS = ['--import', 'tsx', '--import', './server/observability/instrument.ts', 'server/main.ts'];
const POLL_MS = 200;
const PROBE_TIMEOUT_MS = 2_000;
/** After SIGKILL, how long to wait for the exit to be reported. */
const KILL_WAIT_MS = 5_000;

export interface NodeSpec {
  /** 1-based, as printed and logged (`node: 2`). */
  number: number;
  port: number;
  /** Where to probe it (loopback even when it listens on 0.0.0.0). */
  url: string;
  env: Record<string, string | undefined>;
}

export interface SupervisorOptions {
  log: Logger;
  maxRestarts: number;
  restartDelayMs: number;
  readyTimeoutMs: number;
  /** The node cannot be kept up: it died before it was ever ready, or more often than maxRestarts. */
  onGiveUp: (reason: string) => void;
}

export interface SupervisedNode {
  readonly spec: NodeSpec;
  pid(): number | null;
  /** Resolves true once /health/ready answers 200; false if the node exits or `timeoutMs` pass first. */
  ready(timeoutMs: number): Promise<boolean>;
  /** Sends `signal`, waits up to `graceMs`, then SIGKILLs. Resolves with the exit code (null: killed). */
  stop(signal: NodeJS.Signals, graceMs: number): Promise<number | null>;
}

// Nodes run in their own process group (so a terminal's Ctrl-C reaches only the cluster, which
// forwards it once); should the cluster itself exit some other way, none of them outlives it.
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Whether `port` on `host` can be listened on right now. */
export function portIsFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, host, () => probe.close(() => resolve(true)));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function answersReady(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

export function superviseNode(spec: NodeSpec, options: SupervisorOptions): SupervisedNode {
  const log = options.log.child({ node: spec.number, port: spec.port });
  let child: ChildProcess | null = null;
  let exited: Promise<number | null> = Promise.resolve(null);
  let stopping = false;
  let everReady = false;
  let restarts = 0;
  let restartTimer: NodeJS.Timeout | null = null;

  const alive = (c: ChildProcess | null) => c !== null && c.exitCode === null && c.signalCode === null;

  function launch(): void {
    const proc = spawn(process.execPath, NODE_ARGS, {
      cwd: ROOT,
      env: spec.env,
      detached: true,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child = proc;
    running.add(proc);
    exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        running.delete(proc);
        resolve(code);
        if (!stopping) died(code, signal);
      });
    });
    proc.once('error', (err) => log.error({ err }, 'node could not be started'));
    log.info({ pid: proc.pid }, 'node started');
  }

  function died(code: number | null, signal: NodeJS.Signals | null): void {
    log.error({ code, signal, restarts }, 'node died unexpectedly');
    if (!everReady) return options.onGiveUp(`node ${spec.number} exited before it was ever ready`);
    if (restarts >= options.maxRestarts) return options.onGiveUp(`node ${spec.number} died ${restarts + 1} times`);
    restarts++;
    log.warn({ inMs: options.restartDelayMs, restart: restarts, maxRestarts: options.maxRestarts }, 'restarting node');
    restartTimer = setTimeout(() => {
      restartTimer = null;
      if (stopping) return;
      launch();
      void node.ready(options.readyTimeoutMs).then((ok) => {
        if (ok) log.info({ pid: child?.pid }, 'node ready again');
        else if (!stopping) log.warn('restarted node is not ready');
      });
    }, options.restartDelayMs);
  }

  const node: SupervisedNode = {
    spec,
    pid: () => (alive(child) ? (child?.pid ?? null) : null),

    async ready(timeoutMs) {
      const proc = child;
      const until = Date.now() + timeoutMs;
      while (alive(proc) && Date.now() < until) {
        if (await answersReady(spec.url)) {
          everReady = true;
          return true;
        }
        await sleep(POLL_MS);
      }
      return false;
    },

    async stop(signal, graceMs) {
      stopping = true;
      if (restartTimer) clearTimeout(restartTimer);
      const proc = child;
      if (!proc || !alive(proc)) return proc?.exitCode ?? null;
      proc.kill(signal);
      const timedOut = Symbol('timed out');
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<typeof timedOut>((resolve) => (timer = setTimeout(() => resolve(timedOut), graceMs)));
      const outcome = await Promise.race([exited, grace]);
      clearTimeout(timer);
      if (outcome !== timedOut) return outcome;
      log.warn({ graceMs }, 'node did not stop in time; killing it');
      proc.kill('SIGKILL');
      await Promise.race([exited, sleep(KILL_WAIT_MS)]);
      return null;
    },
  };

  launch();
  return node;
}
