// pino options shared by the HTTP server and the CLIs: structured JSON, secrets and personal data
// redacted, the active trace id, span id and purchase id on every line (log-context.ts), pretty
// output only when asked (or on a TTY in development).
import pino, { type Logger, type LoggerOptions } from 'pino';
import { logFields } from './log-context.ts';

/** Paths never written to a log line, whatever a handler passes in. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["stripe-signature"]',
  'req.headers["x-paystack-signature"]',
  'res.headers["set-cookie"]',
  'authorization',
  '*.authorization',
  'password',
  'token',
  'secret',
  'email',
  '*.password',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.deviceToken',
  '*.secret',
  '*.clientSecret',
  '*.client_secret',
  '*.secretKey',
  '*.webhookSecret',
  '*.jwtSecret',
  '*.apiKey',
  '*.otp',
  '*.code_hash',
  '*.email',
  '*.customerEmail',
];

export interface LogSettings {
  level: string;
  pretty: boolean;
}

export function loggerOptions(settings: LogSettings): LoggerOptions {
  return {
    level: settings.level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    mixin: () => logFields(),
    ...(settings.pretty
      ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } }
      : {}),
  };
}

export function createLogger(settings: LogSettings): Logger {
  return pino(loggerOptions(settings));
}

export type { Logger };
