// Graceful shutdown in one place: readiness turns 503 at once, then (after an optional drain delay
// for load balancers, during which requests are still served) each step runs in order — stop listening and finish in-flight requests,
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
  /** From the moment shutdown starts (readiness answers 503). */
  isShuttingDown(): boolean;
  /** From the end of the drain delay: the steps run and new requests are refused. */
  isClosing(): boolean;
  /** Steps run in the order added. */
  add(step: ShutdownStep): void;
  /**
   * Starts (or joins) the shutdown; resolves with the exit code after exit() was called. A non-zero
   * `exitCode` (a crash) is the least the process exits with, even when every step went well.
   */
  shutdown(reason: string, exitCode?: number): Promise<number>;
}

export function createShutdown(options: ShutdownOptions): ShutdownController {
  const steps: ShutdownStep[] = [];
  let running: Promise<number> | null = null;
  let leastCode = 0;
  let closing = false;

  async function runSteps(reason: string): Promise<number> {
    const log = options.log;
    log.info({ reason }, 'shutting down');
    if (options.drainDelayMs) await new Promise((resolve) => setTimeout(resolve, options.drainDelayMs));
    closing = true;
    let code = 0;
    for (const step of steps) {
      try {
        await step.run();
        log.info({ step: step.name }, 'shutdown step done');
      } catch (err) {
        code = 1;
        log.error({ err, step: step.name }, 'shutdown step failed');
      }
    }
    return code;
  }

  return {
    isShuttingDown: () => running !== null,
    isClosing: () => closing,
    add: (step) => void steps.push(step),
    shutdown(reason, exitCode = 0) {
      leastCode = Math.max(leastCode, exitCode);
      running ??= (async () => {
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<number>((resolve) => {
          timer = setTimeout(() => {
            options.log.error({ timeoutMs: options.timeoutMs }, 'shutdown did not finish in time; exiting');
            resolve(1);
          }, options.timeoutMs);
          timer.unref();
        });
        const code = Math.max(await Promise.race([runSteps(reason), deadline]), leastCode);
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
