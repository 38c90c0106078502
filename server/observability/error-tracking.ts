// Error reports to a tracker (Sentry) when SENTRY_DSN is set: each with its stack, request id,
// trace id and release, scrubbed of tokens and personal data before it leaves the process. Callers
// log the error themselves; without a DSN reporting does nothing more than that log line.
import { context } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import type * as SentrySdk from '@sentry/node';
import type { ErrorEvent, Event } from '@sentry/node';
import type { Logger } from './logger.ts';

export interface ErrorTrackingSettings {
  dsn: string | null;
  environment: string;
  release: string;
}

/** Where an error happened: every field becomes a tag on the report. */
export interface ErrorContext {
  requestId?: string | undefined;
  traceId?: string | undefined;
  spanId?: string | undefined;
  route?: string | undefined;
  method?: string | undefined;
  purchaseId?: string | undefined;
  /** How it surfaced: `http`, `unhandledRejection`, `uncaughtException`... */
  source?: string | undefined;
}

export interface ErrorTracker {
  /** True when reports leave the process (a DSN is configured). */
  readonly enabled: boolean;
  report(err: unknown, where?: ErrorContext): void;
  /** Sends what is pending; false when the timeout passed first. */
  flush(timeoutMs?: number): Promise<boolean>;
  /** Flushes, then stops reporting. */
  close(timeoutMs?: number): Promise<boolean>;
}

const REDACTED = '[redacted]';
const DEFAULT_FLUSH_MS = 2_000;

/** Strings that look like credentials or personal data, wherever they appear. */
const SECRET_PATTERNS: [RegExp, string][] = [
  [/\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, REDACTED],
  [/\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${REDACTED}`],
  [/\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]+/g, REDACTED],
  [/\b(?:sk|rk)_[A-Za-z0-9]{16,}/g, REDACTED],
  [/\bwhsec_[A-Za-z0-9+/=]+/g, REDACTED],
  [/[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g, REDACTED],
  // Credentials inside URLs (postgres://user:password@host).
  [/(\/\/)[^/\s:@]+:[^/\s@]+@/g, `$1${REDACTED}@`],
];

/** Keys whose values are never sent, at any depth (headers, extra, query parameters...). */
const SECRET_KEYS =
  /^(authorization|proxy-authorization|cookie|set-cookie|x-api-key|api[-_]?key|stripe-signature|x-paystack-signature|password|passwd|secret|client[-_]?secret|secret[-_]?key|webhook[-_]?secret|jwt[-_]?secret|token|access[-_]?token|refresh[-_]?token|device[-_]?token|id[-_]?token|otp|email|customer[-_]?email|session[-_]?id)$/i;

/** Top-level event fields that are ours or the SDK's, never user data. */
const UNTOUCHED_FIELDS = new Set(['event_id', 'timestamp', 'start_timestamp', 'level', 'platform', 'release', 'dist', 'environment', 'sdk', 'modules', 'debug_meta', 'type', 'server_name', 'sdkProcessingMetadata']);

export function redactText(text: string): string {
  let out = text;
  for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

function redactDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (depth > 20 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = SECRET_KEYS.test(key) ? REDACTED : redactDeep(item, depth + 1);
  return out;
}

function redactQuery(query: string): string {
  const params = new URLSearchParams(query.startsWith('?') ? query.slice(1) : query);
  for (const key of [...params.keys()]) if (SECRET_KEYS.test(key)) params.set(key, REDACTED);
  return redactText(params.toString());
}

function redactUrl(url: string): string {
  const at = url.indexOf('?');
  return at < 0 ? redactText(url) : `${redactText(url.slice(0, at))}?${redactQuery(url.slice(at + 1))}`;
}

/**
 * beforeSend: drops cookies, credential headers, bodies and personal user fields, and redacts
 * token-looking strings everywhere else (messages, exception values, frames, breadcrumbs, extra).
 */
export function scrub<E extends Event>(event: E): E {
  const out = { ...event } as Record<string, unknown>;
  for (const [key, value] of Object.entries(event)) {
    if (!UNTOUCHED_FIELDS.has(key) && key !== 'request' && key !== 'user') out[key] = redactDeep(value);
  }
  if (event.request) {
    const { cookies: _cookies, data: _data, env: _env, headers, query_string: query, url, ...rest } = event.request;
    const request: Record<string, unknown> = redactDeep(rest) as Record<string, unknown>;
    if (url) request['url'] = redactUrl(url);
    if (headers) request['headers'] = redactDeep(headers);
    if (typeof query === 'string') request['query_string'] = redactQuery(query);
    else if (query) request['query_string'] = redactDeep(query);
    out['request'] = request;
  }
  if (event.user) {
    // Only an opaque id identifies the user; email, ip address and username stay here.
    const id = event.user.id;
    if (id === undefined || id === null || id === '') delete out['user'];
    else out['user'] = { id: typeof id === 'string' ? redactText(id) : id };
  }
  return out as E;
}

function tagsOf(where: ErrorContext, settings: ErrorTrackingSettings): Record<string, string> {
  const tags: Record<string, string> = { release: settings.release, environment: settings.environment };
  const named: [string, string | undefined][] = [
    ['request_id', where.requestId],
    ['trace_id', where.traceId],
    ['span_id', where.spanId],
    ['route', where.route],
    ['method', where.method],
    ['purchase_id', where.purchaseId],
    ['source', where.source],
  ];
  for (const [name, value] of named) if (value) tags[name] = value;
  return tags;
}

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;

type SentryModule = typeof SentrySdk;

// Sentry keeps one client per process: a second tracker (tests start several servers) shares it.
let shared: Promise<SentryModule> | null = null;

async function initSentry(settings: ErrorTrackingSettings & { dsn: string }): Promise<SentryModule> {
  const Sentry = await import('@sentry/node');
  if (Sentry.isInitialized()) return Sentry;
  Sentry.initWithoutDefaultIntegrations({
    dsn: settings.dsn,
    environment: settings.environment,
    release: settings.release,
    // Our OpenTelemetry SDK (telemetry.ts) owns tracing, the context manager and module hooks:
    // Sentry registers none of its own and records no spans (tracesSampleRate stays unset).
    enableOpenTelemetrySetup: false,
    enableRuntimeChannelInjection: false,
    // Process errors are ours (process-errors.ts); no request, header, cookie, body or user data
    // is collected, and no source lines or local variables (they may hold secrets).
    integrations: [Sentry.linkedErrorsIntegration(), Sentry.dedupeIntegration(), Sentry.functionToStringIntegration(), Sentry.nodeContextIntegration()],
    dataCollection: {
      userInfo: false,
      cookies: false,
      httpHeaders: false,
      httpBodies: [],
      urlQueryParams: false,
      stackFrameVariables: false,
      frameContextLines: 0,
      databaseQueryData: false,
      queues: false,
    },
    includeServerName: false,
    sendClientReports: false,
    maxBreadcrumbs: 0,
    beforeSend: (event: ErrorEvent) => scrub(event),
    // The trip to the tracker is not part of any trace of ours.
    transport: (options) => {
      const inner = Sentry.makeNodeTransport(options);
      return {
        send: (envelope) => context.with(suppressTracing(context.active()), () => inner.send(envelope)),
        flush: (timeout) => inner.flush(timeout),
      };
    },
  });
  return Sentry;
}

export async function createErrorTracker(settings: ErrorTrackingSettings, log: Logger): Promise<ErrorTracker> {
  const dsn = settings.dsn;
  if (!dsn) {
    return {
      enabled: false,
      report: () => {},
      flush: () => Promise.resolve(true),
      close: () => Promise.resolve(true),
    };
  }
  shared ??= initSentry({ ...settings, dsn });
  const Sentry = await shared;
  log.info({ environment: settings.environment, release: settings.release }, 'error tracking on');
  return {
    enabled: true,
    report(err, where = {}) {
      try {
        Sentry.withScope((scope) => {
          scope.setTags(tagsOf(where, settings));
          // The report carries our OpenTelemetry trace, so it links to the same trace as the logs.
          if (where.traceId && TRACE_ID.test(where.traceId)) {
            scope.setPropagationContext({
              traceId: where.traceId,
              sampleRand: Math.random(),
              ...(where.spanId && SPAN_ID.test(where.spanId) ? { propagationSpanId: where.spanId } : {}),
            });
          }
          Sentry.captureException(err);
        });
      } catch (failure) {
        log.warn({ err: failure }, 'error report failed');
      }
    },
    async flush(timeoutMs = DEFAULT_FLUSH_MS) {
      return Sentry.flush(timeoutMs);
    },
    async close(timeoutMs = DEFAULT_FLUSH_MS) {
      const done = await Sentry.close(timeoutMs);
      shared = null;
      return done;
    },
  };
}
