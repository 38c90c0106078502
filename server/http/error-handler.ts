// The one place where errors become HTTP answers: AppError codes map through errors.ts, framework
// and validation errors are folded into the same stable body, and a 5xx never shows internals.
import { STATUS_CODES as HTTP_REASONS } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { App } from './types.ts';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError, ERROR_STATUS, type ErrorCode } from '../errors.ts';
import type { ErrorContext } from '../observability/error-tracking.ts';
import { logFields } from '../observability/log-context.ts';

const FRAMEWORK_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_json',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_BAD_URL: 'bad_request',
  FST_ERR_ASYNC_CONSTRAINT: 'bad_request',
};

const STATUS_CODES: Partial<Record<number, ErrorCode>> = Object.fromEntries(
  (Object.entries(ERROR_STATUS) as [ErrorCode, number][])
    .filter(([code]) => !['validation_failed', 'malformed_json', 'admission_required'].includes(code))
    .map(([code, status]) => [status, code]),
);

const MESSAGES: Partial<Record<ErrorCode, string>> = {
  malformed_json: 'the request body is not valid JSON',
  payload_too_large: 'the request body is too large',
  unsupported_media_type: 'unsupported content type; send application/json',
  internal: 'internal error',
  service_unavailable: 'service unavailable',
};

interface Issue {
  path: string;
  message: string;
}

function validationIssues(err: FastifyError & { validation: unknown[] }): Issue[] {
  const where = err.validationContext ?? 'request';
  return (err.validation as { instancePath?: string; message?: string }[]).map((v) => ({
    path: [where, ...(v.instancePath ?? '').split('/').filter(Boolean)].join('.'),
    message: v.message ?? 'invalid',
  }));
}

// Database outcomes that are answers, not bugs: a rule the schema enforces, or a busy row.
const POSTGRES_CODES: Record<string, [ErrorCode, string]> = {
  '23505': ['conflict', 'that already exists'],
  '23503': ['conflict', 'that refers to something that does not exist or is still in use'],
  '23514': ['conflict', 'that would break a rule of the catalog'],
  '22P02': ['bad_request', 'a value has the wrong form'],
  '40001': ['service_unavailable', 'busy; retry'],
  '40P01': ['service_unavailable', 'busy; retry'],
  '55P03': ['service_unavailable', 'busy; retry'],
};

/** How long a client should wait before retrying a 503 that gave no time of its own. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 2;

// PostgreSQL or Redis is away (down, restarting, refusing connections): a 503 the client may retry,
// not a fault. postgres.js reports a lost or refused connection as an Error whose `code` is the
// socket's errno or one of its own names; the server says why it refuses in a SQLSTATE (class 08:
// connection exception; 57P01/57P02: admin or crash shutdown; 57P03: cannot connect now, e.g.
// starting up or in recovery; 53300: too many connections).
const CONNECTION_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
]);
const UNAVAILABLE_SQLSTATES: ReadonlySet<string> = new Set(['57P01', '57P02', '57P03', '53300']);
// ioredis fails a command with a plain Error (these messages) or a MaxRetriesPerRequestError while
// a request connection (enableOfflineQueue off, one retry) has no Redis to talk to.
const REDIS_UNAVAILABLE_MESSAGES: ReadonlySet<string> = new Set([
  'Connection is closed.',
  "Stream isn't writeable and enableOfflineQueue options is false",
  "Cluster isn't ready and enableOfflineQueue options is false",
  'None of startup nodes is available',
  'Failed to refresh slots cache.',
]);

/** Whether `err` (or what it wraps: `cause`, an AggregateError's `errors`) says a store is unreachable. */
export function isStoreUnavailable(err: unknown, depth = 0): boolean {
  if (typeof err !== 'object' || err === null || depth > 3) return false;
  const e = err as { name?: unknown; code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string') {
    if (CONNECTION_CODES.has(e.code)) return true;
    if (e.name === 'PostgresError' && (e.code.startsWith('08') || UNAVAILABLE_SQLSTATES.has(e.code))) return true;
  }
  if (e.name === 'MaxRetriesPerRequestError' || e.name === 'ClusterAllFailedError') return true;
  if (typeof e.message === 'string' && REDIS_UNAVAILABLE_MESSAGES.has(e.message)) return true;
  if (Array.isArray(e.errors) && e.errors.some((inner) => isStoreUnavailable(inner, depth + 1))) return true;
  return e.cause !== undefined && isStoreUnavailable(e.cause, depth + 1);
}

/** Turns anything thrown in a request into an AppError (unknown errors become `internal`). */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (isStoreUnavailable(err)) {
    return new AppError('service_unavailable', 'temporarily unavailable; retry shortly', { retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS }, { cause: err });
  }
  const pg = err as { name?: string; code?: string; constraint_name?: string };
  const known = pg.name === 'PostgresError' && pg.code ? POSTGRES_CODES[pg.code] : undefined;
  if (known) {
    const [code, message] = known;
    return new AppError(code, message, pg.constraint_name ? { constraint: pg.constraint_name } : undefined, { cause: err });
  }
  const fe = err as Partial<FastifyError> & { validation?: unknown[] };
  if (hasZodFastifySchemaValidationErrors(err) || (Array.isArray(fe.validation) && fe.validation.length > 0)) {
    const issues = validationIssues(fe as FastifyError & { validation: unknown[] });
    return new AppError('validation_failed', 'the request is invalid', { issues }, { cause: err });
  }
  const mapped = fe.code ? FRAMEWORK_CODES[fe.code] : undefined;
  if (mapped) return new AppError(mapped, MESSAGES[mapped] ?? fe.message ?? mapped, undefined, { cause: err });
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
  if (status >= 400 && status < 500) {
    const code = STATUS_CODES[status] ?? 'bad_request';
    return new AppError(code, fe.message ?? code, undefined, { cause: err });
  }
  const code: ErrorCode = status === 503 ? 'service_unavailable' : 'internal';
  return new AppError(code, MESSAGES[code] ?? 'internal error', undefined, { cause: err });
}

/** Sends a server fault to error tracking (observability/error-tracking.ts). */
export type ReportServerError = (err: unknown, where: ErrorContext) => void;

const reported = new WeakSet<FastifyRequest>();

export function sendError(request: FastifyRequest, reply: FastifyReply, err: unknown, report?: ReportServerError): FastifyReply {
  const appError = toAppError(err);
  // A 503 is an answer given on purpose (not ready, shutting down, busy): a warning, not a fault,
  // and without a stack when we raised it ourselves.
  const level = appError.status === 503 ? 'warn' : appError.status >= 500 ? 'error' : 'info';
  const cause = appError.status >= 500 && !(appError.status === 503 && err === appError) ? err : undefined;
  request.log[level]({ err: cause, code: appError.code }, appError.message);
  // Faults (what we log at error level) are reported, once per request; answers never are.
  if (report && level === 'error' && !reported.has(request)) {
    reported.add(request);
    report(err, { ...logFields(), requestId: request.id, method: request.method, route: request.routeOptions.url ?? 'unmatched', source: 'http' });
  }
  const retryAfter = (appError.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
  if (appError.code === 'rate_limited' && typeof retryAfter === 'number') reply.header('retry-after', retryAfter);
  // Every 503 may be retried: say when (its own time, or a short default).
  if (appError.code === 'service_unavailable') reply.header('retry-after', typeof retryAfter === 'number' ? retryAfter : UNAVAILABLE_RETRY_AFTER_SECONDS);
  return reply.code(appError.status).type('application/json; charset=utf-8').send(appError.toBody());
}

export function registerErrorHandling(app: App, report?: ReportServerError): void {
  app.setErrorHandler((err, request, reply) => sendError(request, reply, err, report));
  app.setNotFoundHandler((request, reply) =>
    sendError(request, reply, new AppError('not_found', `no route for ${request.method} ${request.url.split('?')[0]}`)),
  );
}

const CLIENT_ERRORS: Record<string, [number, ErrorCode, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'request_timeout', 'the request took too long to arrive'],
  HPE_HEADER_OVERFLOW: [431, 'bad_request', 'request headers too large'],
};

/** Answers malformed HTTP and slow clients (before any route runs) with the same stable body. */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable) return;
  const [status, code, message] = CLIENT_ERRORS[err.code ?? ''] ?? [400, 'bad_request', 'malformed HTTP request'];
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${HTTP_REASONS[status] ?? 'Bad Request'}\r\n` +
      `Connection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
