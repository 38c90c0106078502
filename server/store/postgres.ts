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

export function createPostgres(options: PostgresOptions): Sql {
  const sql = postgres(options.url, {
    max: options.poolMax ?? 10,
    onnotice: () => {},
    idle_timeout: 60,
    connect_timeout: 10,
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
 */
function withSafeTransactions(sql: Sql): Sql {
  async function run<T>(fn: (tx: TransactionSql) => T | Promise<T>): Promise<T> {
    const connection = await sql.reserve();
    const reserved = withQuerySpans(connection);
    try {
      await reserved`begin`;
      try {
        const result = await fn(reserved as unknown as TransactionSql);
        await reserved`commit`;
        return result;
      } catch (err) {
        await reserved`rollback`.catch(() => {});
        throw err;
      }
    } finally {
      connection.release();
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

/** Quotes an identifier for the few statements that cannot take parameters (CREATE DATABASE ...). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
