// pino options shared by the HTTP server and the CLIs: structured JSON, secrets redacted, the active
// trace id on every line, pretty output only when asked (or on a TTY in development).
import { trace } from '@opentelemetry/api';
import pino, { type Logger, type LoggerOptions } from 'pino';

/** Paths never written to a log line, whatever a handler passes in. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.secret',
  '*.otp',
  '*.code_hash',
];

export interface LogSettings {
  level: string;
  pretty: boolean;
}

export function loggerOptions(settings: LogSettings): LoggerOptions {
  return {
    level: settings.level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    mixin() {
      const span = trace.getActiveSpan();
      if (!span) return {};
      const ctx = span.spanContext();
      return { traceId: ctx.traceId, spanId: ctx.spanId };
    },
    ...(settings.pretty
      ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } }
      : {}),
  };
}

export function createLogger(settings: LogSettings): Logger {
  return pino(loggerOptions(settings));
}

export type { Logger };
