// The environment of the nodes a run starts: the bench defaults (limits lifted, development,
// sandbox payments), warnings only in the log, the scenario's hold TTL and sweep, room for every
// watcher and buyer socket from loopback, and whatever the scenario or --env adds.
import { benchEnv } from '../harness.ts';
import type { Options } from './scenarios.ts';

export function nodeEnvironment(options: Options, urls: { postgres: string; redis: string }): Record<string, string> {
  return benchEnv(urls, {
    LOG_LEVEL: 'warn',
    HOLD_TTL_SECONDS: String(options.holdTtlSeconds),
    SWEEP_INTERVAL_SECONDS: String(options.sweepSeconds),
    LIVE_MAX_CONNECTIONS_PER_IP: String(options.watchers + options.buyers + 100),
    DATABASE_POOL_MAX: String(options.poolPerNode),
    ...options.nodeEnv,
  });
}
