// The Postgres pool (postgres.js). One per process; capabilities receive it, never create their own.
// Every query is a span (query-spans.ts) and every transaction a span around its queries.
import { SpanStatusCode, trace } from '@opentelemetry/api';
import postgres from 'postgres';
import { withQuerySpans } from './query-spans.ts';

export type Sql = postgres.Sql;
export type TransactionSql = postgres.TransactionSql;

export interface PostgresOptions {
  url: string;
  poolMax?: number;
  applicationName?: string;
  /** Queries pipelined per connection (postgres.js default 100); tests lower it to provoke races. */
  maxPipeline?: number;
}

/**
 * Seconds a connection waits before reconnecting after it failed. postgres.js's default grows as
 * 3^n / 100 up to 20 s over failures of the whole pool, and a connection keeps the wait it drew
 * when it failed: after PostgreSQL came back from a few seconds away, requests still queued behind
 * reconnects 10-20 s away (past any client's patience). A restarted server is answered within a
 * second instead; a pool of a few connections retrying at most once a second each is no load.
 */
export function reconnectBackoff(failures: number): number {
  return Math.min(0.05 * 2 ** failures, 1) * (0.5 + Math.random() / 2);
}

export function createPostgres(options: PostgresOptions): Sql {
  const sql = postgres(options.url, {
    max: options.poolMax ?? 10,
    onnotice: () => {},
    idle_timeout: 60,
    connect_timeout: 10,
    backoff: reconnectBackoff,
    connection: { application_name: options.applicationName ?? 'boxoffice' },
    ...(options.maxPipeline ? { max_pipeline: options.maxPipeline } : {}),
  });
  return withQuerySpans(withSafeTransactions(sql));
}

const tracer = trace.getTracer('boxoffice.postgres');

/**
 * postgres.js 3.4.9 can write a transaction's BEGIN without reserving its connection when the
 * connection's pipeline is full or its socket pushes back (porsager/postgres#823, #1189): the
 * query then fails with UNSAFE_TRANSACTION, or worse, unrelated queries run inside the open
 * transaction. Seen here under a 300-request spike. Until a fixed release exists, `begin` takes an
 * idle connection for itself first (`reserve`, which marks it reserved before anything is sent)
 * and runs BEGIN / COMMIT / ROLLBACK on it. Callers keep writing `sql.begin(async (tx) => ...)`.
 *
 * The same release also crashes the process when a statement is written on a reserved connection
 * whose socket has closed (a deferred write finds no socket: an uncaught TypeError, #1208), and a
 * closed connection released back to the pool is handed out as open and does the same to the next
 * query. PostgreSQL restarting closes every transaction's connection at once. So each transaction
 * hears when its connection closes (the hook the driver's own `begin` uses, set when BEGIN is
 * written): from then on it writes nothing more on it — statements fail with CONNECTION_CLOSED,
 * no ROLLBACK is sent (the server rolled back as the session ended), a statement already waiting
 * gives up — and the connection is not released, since the pool has already taken it back as closed.
 */
function withSafeTransactions(sql: Sql): Sql {
  async function run<T>(fn: (tx: TransactionSql) => T | Promise<T>): Promise<T> {
    const connection = await sql.reserve();
    let lost: Error | null = null;
    let giveUp: (err: Error) => void = () => {};
    const gone = new Promise<never>((_, reject) => (giveUp = reject));
    gone.catch(() => {});
    let driverConnection: DriverConnection | null = null;
    const watch = (c: DriverConnection) => {
      driverConnection = c;
      c.onclose = (err) => {
        lost = connectionClosed(err);
        giveUp(lost);
      };
      return true;
    };
    const untilLost = <R>(work: PromiseLike<R>): Promise<R> => Promise.race([work, gone]);
    const reserved = withQuerySpans(refusingWhenLost(connection, () => lost));
    try {
      await untilLost(connection.unsafe('begin', [], { onexecute: watch } as never));
      try {
        const result = await untilLost(Promise.resolve(fn(reserved as unknown as TransactionSql)));
        await untilLost(reserved`commit`);
        return result;
      } catch (err) {
        if (!lost) await untilLost(reserved`rollback`).catch(() => {});
        throw err;
      }
    } finally {
      if (driverConnection) (driverConnection as DriverConnection).onclose = null;
      if (!lost) connection.release();
    }
  }
  function begin<T>(fn: (tx: TransactionSql) => T | Promise<T>): Promise<T> {
    if (!trace.getActiveSpan()) return run(fn);
    return tracer.startActiveSpan('transaction', async (span) => {
      try {
        return await run(fn);
      } catch (err) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        throw err;
      } finally {
        span.end();
      }
    });
  }
  return Object.assign(sql, {
    begin: (first: unknown, second?: unknown) => {
      if (typeof first !== 'function' || second !== undefined) throw new Error('sql.begin(options, fn) is not supported here: use sql.begin(fn)');
      return begin(first as (tx: TransactionSql) => unknown);
    },
  }) as Sql;
}

/** The part of postgres.js's connection object the transactions use: its close hook (3.4.9). */
interface DriverConnection {
  onclose: ((err: unknown) => void) | null;
}

/** A closed connection's error, coded as postgres.js codes one (answered 503 by the error handler). */
function connectionClosed(cause: unknown): Error {
  const err = new Error('write CONNECTION_CLOSED: the transaction\'s connection closed', { cause });
  return Object.assign(err, { code: 'CONNECTION_CLOSED' });
}

/** The reserved connection, whose statements fail at once (lazily, as queries do) after it closed. */
function refusingWhenLost<S extends object>(connection: S, lost: () => Error | null): S {
  return new Proxy(connection, {
    apply(target, thisArg, args: unknown[]) {
      const err = lost();
      if (err && Array.isArray(args[0]) && Object.hasOwn(args[0], 'raw')) {
        // Not a promise until awaited, like a postgres.js query: nothing rejects unobserved.
        return { then: (onFulfilled?: (v: never) => unknown, onRejected?: (e: unknown) => unknown) => Promise.reject(err).then(onFulfilled, onRejected) };
      }
      return Reflect.apply(target as (...a: unknown[]) => unknown, thisArg, args);
    },
  });
}

/** Quotes an identifier for the few statements that cannot take parameters (CREATE DATABASE ...). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
