// What leaves the process in an error report: no tokens, keys, cookies, bodies or personal data,
// wherever the SDK or our code put them; and the process-level handlers report and log what no
// request caught. (Reports over the wire: test/ops/error-tracking.int.test.ts.)
import { EventEmitter } from 'node:events';
import type { ErrorEvent } from '@sentry/node';
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { createShutdown } from '../shutdown.ts';
import { createErrorTracker, redactText, scrub } from './error-tracking.ts';
import { watchProcessErrors } from './process-errors.ts';

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIn0.c2lnbmF0dXJlLWJ5dGVz';
// Assembled here so no secret scanner mistakes the fixture for a leaked live key.
const STRIPE_KEY = ['sk', 'live', '51HxYzAbCdEfGhIjKlMn'].join('_');
const EMAIL = 'ada.buyer@example.com';

function realisticEvent(): ErrorEvent {
  return {
    type: undefined,
    event_id: '0123456789abcdef0123456789abcdef',
    release: 'boxoffice@0.1.0',
    environment: 'production',
    message: `charge failed for ${EMAIL}`,
    exception: {
      values: [
        {
          type: 'Error',
          value: `provider said no to Bearer ${JWT} using ${STRIPE_KEY} (whsec_AbCdEf123456 on file)`,
          stacktrace: {
            frames: [
              { filename: '/srv/boxoffice/server/payments/stripe.ts', function: 'charge', lineno: 42, context_line: `const key = '${STRIPE_KEY}';`, vars: { token: JWT, amount: 1200 } },
            ],
          },
        },
      ],
    },
    request: {
      url: `https://tickets.example.com/api/v1/purchases?token=${JWT}&page=2`,
      method: 'POST',
      headers: {
        authorization: `Bearer ${JWT}`,
        Cookie: 'session=abc123',
        'x-api-key': 'k-123',
        'stripe-signature': 't=1,v1=deadbeef',
        'x-paystack-signature': 'cafebabe',
        'user-agent': 'curl/8',
      },
      cookies: { session: 'abc123' },
      data: { email: EMAIL, cardLast4: '4242' },
      query_string: `token=${JWT}&page=2`,
      env: { REMOTE_ADDR: '203.0.113.9' },
    },
    user: { id: 'user-42', email: EMAIL, ip_address: '203.0.113.9', username: 'ada' },
    breadcrumbs: [{ message: `login by ${EMAIL}`, data: { authorization: 'Basic dXNlcjpwYXNz' } }],
    extra: { customerEmail: EMAIL, note: `refund via rk_test_AbCdEfGh12345678 and pk_live_Zz9988776655`, dsn: 'postgres://app:hunter2@db:5432/boxoffice' },
    tags: { request_id: 'req-1', trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' },
    contexts: { trace: { trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', span_id: '00f067aa0ba902b7' } },
  };
}

describe('scrub', () => {
  it('removes every token, key, cookie, body and piece of personal data from a realistic event', () => {
    const event = realisticEvent();
    const clean = scrub(event);
    const raw = JSON.stringify(clean);
    for (const secret of [JWT, STRIPE_KEY, EMAIL, 'abc123', 'k-123', 'deadbeef', 'cafebabe', 'dXNlcjpwYXNz', 'whsec_AbCdEf123456', 'rk_test_', 'pk_live_', 'hunter2', '203.0.113.9', '"ada"', '4242']) {
      expect(raw, secret).not.toContain(secret);
    }
    expect(clean.request?.headers).toMatchObject({ authorization: '[redacted]', Cookie: '[redacted]', 'user-agent': 'curl/8' });
    expect(clean.request).not.toHaveProperty('cookies');
    expect(clean.request).not.toHaveProperty('data');
    expect(clean.request).not.toHaveProperty('env');
    expect(clean.request?.url).toBe('https://tickets.example.com/api/v1/purchases?token=%5Bredacted%5D&page=2');
    expect(clean.request?.query_string).toBe('token=%5Bredacted%5D&page=2');
    expect(clean.user).toEqual({ id: 'user-42' });
    expect(clean.exception?.values?.[0]?.value).toBe('provider said no to Bearer [redacted] using [redacted] ([redacted] on file)');
    expect(clean.message).toBe('charge failed for [redacted]');
    // What helps to debug survives: where it happened, and our ids.
    expect(clean.exception?.values?.[0]?.stacktrace?.frames?.[0]).toMatchObject({ filename: '/srv/boxoffice/server/payments/stripe.ts', lineno: 42, vars: { amount: 1200 } });
    expect(clean.tags).toEqual(event.tags);
    expect(clean.contexts).toEqual(event.contexts);
    expect(clean.release).toBe('boxoffice@0.1.0');
    // The original is left as it was.
    expect(event.request?.cookies).toEqual({ session: 'abc123' });
  });

  it('drops a user with no id, and leaves an event without secrets as it was', () => {
    const event: ErrorEvent = { type: undefined, message: 'plain failure', user: { email: EMAIL }, exception: { values: [{ type: 'TypeError', value: 'x is undefined' }] } };
    const clean = scrub(event);
    expect(clean).not.toHaveProperty('user');
    expect(clean.message).toBe('plain failure');
    expect(clean.exception).toEqual(event.exception);
  });

  it('redacts token-looking strings but keeps release names and ids', () => {
    expect(redactText('boxoffice@0.1.0 request 3f1c2a10-0000-4000-8000-000000000001')).toBe('boxoffice@0.1.0 request 3f1c2a10-0000-4000-8000-000000000001');
    expect(redactText(`Authorization: Bearer abc.def-ghi`)).toBe('Authorization: Bearer [redacted]');
  });
});

describe('error tracker without a DSN', () => {
  it('reports nothing and flushes at once', async () => {
    const tracker = await createErrorTracker({ dsn: null, environment: 'test', release: 'boxoffice@0.0.0' }, pino({ level: 'silent' }));
    expect(tracker.enabled).toBe(false);
    expect(() => tracker.report(new Error('x'), { requestId: 'r' })).not.toThrow();
    expect(await tracker.flush(10)).toBe(true);
    expect(await tracker.close(10)).toBe(true);
  });
});

function capture() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, lines };
}

describe('process errors', () => {
  it('logs and reports an unhandled rejection, and keeps running', () => {
    const { log, lines } = capture();
    const tracker = { report: vi.fn(), flush: vi.fn(() => Promise.resolve(true)) };
    const lifecycle = { shutdown: vi.fn(() => Promise.resolve(0)) };
    const target = new EventEmitter();
    const watch = watchProcessErrors(tracker, log, lifecycle, target as unknown as NodeJS.Process);
    const reason = new Error('nobody awaited me');
    target.emit('unhandledRejection', reason, Promise.resolve());
    expect(tracker.report).toHaveBeenCalledWith(reason, expect.objectContaining({ source: 'unhandledRejection' }));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 50, msg: 'unhandled promise rejection', err: { message: 'nobody awaited me' } });
    expect(lifecycle.shutdown).not.toHaveBeenCalled();
    watch.stop();
    expect(target.listenerCount('unhandledRejection')).toBe(0);
    expect(target.listenerCount('uncaughtException')).toBe(0);
  });

  it('logs an uncaught exception as fatal, reports and flushes it, then shuts down with exit code 1', async () => {
    const { log, lines } = capture();
    const order: string[] = [];
    const tracker = {
      report: vi.fn(() => void order.push('report')),
      flush: vi.fn(() => (order.push('flush'), Promise.resolve(true))),
    };
    const lifecycle = { shutdown: vi.fn(() => (order.push('shutdown'), Promise.resolve(1))) };
    const watch = watchProcessErrors(tracker, log, lifecycle, new EventEmitter() as unknown as NodeJS.Process);
    const err = new Error('state unknown');
    await watch.onUncaughtException(err);
    expect(order).toEqual(['report', 'flush', 'shutdown']);
    expect(tracker.report).toHaveBeenCalledWith(err, expect.objectContaining({ source: 'uncaughtException' }));
    expect(lifecycle.shutdown).toHaveBeenCalledWith('uncaughtException', 1);
    expect(lines[0]).toMatchObject({ level: 60, msg: 'uncaught exception; shutting down', err: { message: 'state unknown' } });
    watch.stop();
  });

  it('makes a shutdown asked for with exit code 1 exit with 1 even when every step went well', async () => {
    const exit = vi.fn();
    const lifecycle = createShutdown({ log: pino({ level: 'silent' }), timeoutMs: 1_000, exit });
    const ran: string[] = [];
    lifecycle.add({ name: 'step', run: () => (ran.push('step'), Promise.resolve()) });
    expect(await lifecycle.shutdown('uncaughtException', 1)).toBe(1);
    expect(ran).toEqual(['step']);
    expect(exit).toHaveBeenCalledWith(1);
  });
});
