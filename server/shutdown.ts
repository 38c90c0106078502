// Graceful shutdown in one place: readiness turns 503 at once, then (after an optional drain delay
// for load balancers) each step runs in order — stop listening and finish in-flight requests,
// close pools, stop what we started — all bounded by one deadline. Exit 0 only if all went well.
import type { Logger } from './observability/index.ts';

export interface ShutdownStep {
  name: string;
  run: () => Promise<void>;
}

export interface ShutdownOptions {
  log: Logger;
  timeoutMs: number;
  /** Time between turning unready and closing the listener. */
  drainDelayMs?: number;
  exit: (code: number) => void;
}

export interface ShutdownController {
  isShuttingDown(): boolean;
  /** Steps run in the order added. */
  add(step: ShutdownStep): void;
  /** Starts (or joins) the shutdown; resolves with the exit code after exit() was called. */
  shutdown(reason: string): Promise<number>;
}

export function createShutdown(options: ShutdownOptions): ShutdownController {
  const steps: ShutdownStep[] = [];
  let running: Promise<number> | null = null;

  async function runSteps(reason: string): Promise<number> {
    const log = options.log;
    log.info({ reason }, 'shutting down');
    if (options.drainDelayMs) await new Promise((resolve) => setTimeout(resolve, options.drainDelayMs));
    let code = 0;
    for (const step of steps) {
      try {
        await step.run();
        log.debug({ step: step.name }, 'shutdown step done');
      } catch (err) {
        code = 1;
        log.error({ err, step: step.name }, 'shutdown step failed');
      }
    }
    return code;
  }

  return {
    isShuttingDown: () => running !== null,
    add: (step) => void steps.push(step),
    shutdown(reason) {
      running ??= (async () => {
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<number>((resolve) => {
          timer = setTimeout(() => {
            options.log.error({ timeoutMs: options.timeoutMs }, 'shutdown did not finish in time; exiting');
            resolve(1);
          }, options.timeoutMs);
          timer.unref();
        });
        const code = await Promise.race([runSteps(reason), deadline]);
        clearTimeout(timer);
        options.log.info({ code }, 'shutdown complete');
        options.log.flush?.();
        options.exit(code);
        return code;
      })();
      return running;
    },
  };
}
