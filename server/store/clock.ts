// One notion of time for deadlines across nodes: PostgreSQL's clock. Every node measures how far
// its own clock is from the database's (the round trip's midpoint, the fastest of a few samples,
// again every half minute) and reads deadlines as its local time plus that offset, so a node whose
// clock runs a few seconds fast or slow neither sets nor enforces a hold's deadline off by as much.
// The error is at most half the round trip: give it a connection of its own (time spent waiting
// for a pooled connection would count as one-way network time), and slow samples are not trusted.
// `now()` reads that much early, so a deadline it says has passed has passed on the database too.
import type { Logger } from '../observability/index.ts';
import type { Sql } from './postgres.ts';

export interface StoreClock {
  /** The database's time now, epoch ms: this node's estimate less its error bound (never ahead). */
  now(): number;
  /** Database time minus this node's time, ms (positive: this node's clock is behind). */
  offsetMs(): number;
  /** Measures the offset again now; resolves with it. */
  sync(): Promise<number>;
  /** Measures once (a failure is logged and the last offset kept), then again every `refreshMs`. */
  start(): Promise<void>;
  close(): void;
}

export interface StoreClockOptions {
  sql: Sql;
  log: Pick<Logger, 'warn' | 'info'>;
  /** How often the offset is measured again (default 30 s). */
  refreshMs?: number;
  /** Round trips per measurement; the fastest one is trusted (default 4). */
  samples?: number;
  /** An offset larger than this is logged as a warning (default 1 s). */
  warnAboveMs?: number;
  /** A measurement whose fastest round trip took longer keeps the last offset (default 100 ms). */
  maxRoundTripMs?: number;
}

interface Sample {
  offset: number;
  roundTrip: number;
}

/** A clock with a fixed offset to this node's (0: the local clock): tests, and code run without a database clock. */
export function fixedOffsetClock(offsetMs = 0): StoreClock {
  return {
    now: () => Date.now() + offsetMs,
    offsetMs: () => offsetMs,
    sync: () => Promise.resolve(offsetMs),
    start: () => Promise.resolve(),
    close: () => {},
  };
}

export function createStoreClock({ sql, log, refreshMs = 30_000, samples = 4, warnAboveMs = 1_000, maxRoundTripMs = 100 }: StoreClockOptions): StoreClock {
  let offset = 0;
  /** How far the offset may be off (half the round trip, and a ms for whole-ms readings): now() reads that much early. */
  let uncertainty = 0;
  let measured = false;
  /** The offset last warned about (null: not off by more than the limit). */
  let warned: number | null = null;
  let timer: NodeJS.Timeout | undefined;
  let syncing: Promise<number> | null = null;

  async function sample(): Promise<Sample> {
    // The round trip is timed on the monotonic clock (a wall clock step must not skew it); the
    // midpoint is taken on the wall clock, which is what the offset corrects.
    const sentAt = Date.now();
    const started = performance.now();
    const [row] = await sql<{ ms: string }[]>`select (extract(epoch from clock_timestamp()) * 1000)::float8::text as ms`;
    const roundTrip = performance.now() - started;
    const receivedAt = Date.now();
    return { offset: Number(row!.ms) - (sentAt + receivedAt) / 2, roundTrip };
  }

  async function measure(): Promise<number> {
    let best: Sample | null = null;
    for (let i = 0; i < samples; i++) {
      const next = await sample();
      if (!best || next.roundTrip < best.roundTrip) best = next;
    }
    // Too slow to trust (a busy machine): the last offset stays, unless there is none yet.
    if (measured && best!.roundTrip > maxRoundTripMs) return offset;
    measured = true;
    offset = Math.round(best!.offset);
    uncertainty = Math.ceil(best!.roundTrip / 2 + 1.5);
    if (Math.abs(offset) > warnAboveMs) {
      if (warned === null || Math.abs(offset - warned) > warnAboveMs / 2) {
        warned = offset;
        log.warn({ offsetMs: offset, roundTripMs: Math.round(best!.roundTrip * 10) / 10 }, "this node's clock is off from the database's; deadlines follow the database");
      }
    } else if (warned !== null) {
      warned = null;
      log.info({ offsetMs: offset }, "this node's clock is back in step with the database's");
    }
    return offset;
  }

  const sync = (): Promise<number> => (syncing ??= measure().finally(() => (syncing = null)));
  const syncQuietly = () =>
    sync().catch((err: unknown) => {
      log.warn({ err, offsetMs: offset }, 'could not measure the clock offset to the database; keeping the last one');
    });

  return {
    now: () => Date.now() + offset - uncertainty,
    offsetMs: () => offset,
    sync,
    async start() {
      await syncQuietly();
      clearInterval(timer);
      timer = setInterval(() => void syncQuietly(), refreshMs);
      timer.unref();
    },
    close() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}
