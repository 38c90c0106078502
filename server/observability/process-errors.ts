// Errors no request or job caught. A rejected promise nobody awaited is a bug but leaves the process
// sound: logged, reported, and we keep serving. An uncaught exception leaves it in an unknown
// state: logged as fatal, reported and flushed, then a graceful shutdown that exits with 1.
import type { ShutdownController } from '../shutdown.ts';
import type { ErrorTracker } from './error-tracking.ts';
import { logFields } from './log-context.ts';
import type { Logger } from './logger.ts';

/** How long a crash waits for its report to leave before shutting down. */
const CRASH_FLUSH_MS = 2_000;

export interface ProcessErrorWatch {
  onUnhandledRejection(reason: unknown): void;
  onUncaughtException(err: unknown): Promise<void>;
  /** Removes the listeners (tests). */
  stop(): void;
}

export function watchProcessErrors(
  tracker: Pick<ErrorTracker, 'report' | 'flush'>,
  log: Logger,
  lifecycle: Pick<ShutdownController, 'shutdown'>,
  target: Pick<NodeJS.Process, 'on' | 'off'> = process,
): ProcessErrorWatch {
  const onUnhandledRejection = (reason: unknown): void => {
    log.error({ err: reason }, 'unhandled promise rejection');
    tracker.report(reason, { ...logFields(), source: 'unhandledRejection' });
  };
  const onUncaughtException = async (err: unknown): Promise<void> => {
    log.fatal({ err }, 'uncaught exception; shutting down');
    tracker.report(err, { ...logFields(), source: 'uncaughtException' });
    try {
      await tracker.flush(CRASH_FLUSH_MS);
    } catch (failure) {
      log.warn({ err: failure }, 'error reports not flushed');
    }
    await lifecycle.shutdown('uncaughtException', 1);
  };
  const onException = (err: unknown): void => void onUncaughtException(err);
  target.on('unhandledRejection', onUnhandledRejection);
  target.on('uncaughtException', onException);
  return {
    onUnhandledRejection,
    onUncaughtException,
    stop() {
      target.off('unhandledRejection', onUnhandledRejection);
      target.off('uncaughtException', onException);
    },
  };
}
