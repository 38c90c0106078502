// A span per PostgreSQL query. postgres.js has no OpenTelemetry instrumentation, so this wraps the
// tagged-template call: a query becomes a CLIENT span when it is awaited (postgres.js queries are
// lazy promises), ending when its result or error arrives. Statement text only, never parameters.
// Queries outside any trace (background sweeps, relays idling) make no span of their own.
import { context, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';

const tracer = trace.getTracer('boxoffice.postgres');
const MAX_STATEMENT = 2_000;

type Settle = (value: unknown) => unknown;
interface Thenable {
  then(onFulfilled?: Settle | null, onRejected?: Settle | null): Promise<unknown>;
}

function isTemplate(value: unknown): value is TemplateStringsArray {
  return Array.isArray(value) && Object.hasOwn(value, 'raw');
}

/** A template's strings are one object per call site: its statement text is worked out once. */
const statements = new WeakMap<TemplateStringsArray, string>();

/** The statement with $1..$n where values go (fragments count as one placeholder). */
export function statementText(strings: TemplateStringsArray): string {
  let text = statements.get(strings);
  if (text === undefined) {
    text = strings[0] ?? '';
    for (let i = 1; i < strings.length; i++) text += `$${i}${strings[i]}`;
    text = text.replace(/\s+/g, ' ').trim().slice(0, MAX_STATEMENT);
    statements.set(strings, text);
  }
  return text;
}

/** select / insert / update / delete / with / begin / ... : a low-cardinality span name. */
export function operationOf(statement: string): string {
  return (/^[a-z]+/i.exec(statement)?.[0] ?? 'query').toLowerCase();
}

function finish(span: Span, err?: unknown): void {
  if (err) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
  }
  span.end();
}

function traceQuery<Q extends Thenable>(query: Q, strings: TemplateStringsArray): Q {
  const originalThen = query.then.bind(query);
  let settled: Promise<unknown> | null = null;
  // `await query`, .catch and .finally all come through then(); the first call runs the query.
  query.then = function then(onFulfilled, onRejected) {
    if (!settled) {
      const parent = context.active();
      if (!trace.getSpan(parent)) {
        settled = originalThen();
      } else {
        const statement = statementText(strings);
        const operation = operationOf(statement);
        const span = tracer.startSpan(
          operation,
          {
            kind: SpanKind.CLIENT,
            attributes: { 'db.system.name': 'postgresql', 'db.operation.name': operation, 'db.query.text': statement },
          },
          parent,
        );
        settled = originalThen(
          (rows) => {
            if (Array.isArray(rows)) span.setAttribute('db.response.returned_rows', rows.length);
            finish(span);
            return rows;
          },
          (err: unknown) => {
            finish(span, err);
            throw err;
          },
        );
      }
    }
    return settled.then(onFulfilled, onRejected);
  };
  return query;
}

/** The same sql function, each tagged-template query traced. Helpers (sql.json, sql(list)) pass through. */
export function withQuerySpans<S extends object>(sql: S): S {
  return new Proxy(sql, {
    apply(target, thisArg, args: unknown[]) {
      const result: unknown = Reflect.apply(target as (...a: unknown[]) => unknown, thisArg, args);
      if (!isTemplate(args[0]) || typeof (result as Thenable | null)?.then !== 'function') return result;
      return traceQuery(result as Thenable, args[0]);
    },
  });
}
