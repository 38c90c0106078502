// Log lines: the trace id, span id and purchase id of where they were written, secrets and personal
// data never, and the level the config asks for.
import { context, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withPurchaseId } from './log-context.ts';
import { loggerOptions } from './logger.ts';

function capture(level = 'info') {
  const lines: Record<string, unknown>[] = [];
  const log = pino(loggerOptions({ level, pretty: false }), { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, lines };
}

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

describe('logger', () => {
  const manager = new AsyncLocalStorageContextManager();
  beforeAll(() => void context.setGlobalContextManager(manager.enable()));
  afterAll(() => {
    manager.disable();
    context.disable();
  });

  it('stamps each line with the trace, span and purchase of the context it was written in', async () => {
    const { log, lines } = capture();
    const span = trace.wrapSpanContext({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.SAMPLED });
    const scope = withPurchaseId(trace.setSpan(context.active(), span), 'b6d5f1c2-0000-4000-8000-000000000001');
    await context.with(scope, async () => {
      log.info('inside');
      await new Promise((resolve) => setTimeout(resolve, 1));
      log.warn('after an await, still inside');
    });
    log.info('outside');
    expect(lines[0]).toMatchObject({ msg: 'inside', traceId: TRACE_ID, spanId: SPAN_ID, purchaseId: 'b6d5f1c2-0000-4000-8000-000000000001' });
    expect(lines[1]).toMatchObject({ msg: 'after an await, still inside', traceId: TRACE_ID, purchaseId: 'b6d5f1c2-0000-4000-8000-000000000001' });
    expect(lines[2]).not.toHaveProperty('traceId');
    expect(lines[2]).not.toHaveProperty('purchaseId');
  });

  it('leaves out an invalid (unsampled, unset) span context', () => {
    const { log, lines } = capture();
    const blank = trace.wrapSpanContext({ traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: TraceFlags.NONE });
    context.with(trace.setSpan(context.active(), blank), () => log.info('blank'));
    expect(lines[0]).not.toHaveProperty('traceId');
  });

  it('redacts credentials, signatures, provider secrets and email addresses', () => {
    const { log, lines } = capture();
    log.info(
      {
        req: { headers: { authorization: 'Bearer eyJ.secret.jwt', 'stripe-signature': 't=1,v1=sig-stripe', 'x-paystack-signature': 'sig-paystack', cookie: 'sid=cookie-value' } },
        payment: { clientSecret: 'pi_123_secret_abc', apiKey: 'sk_live_apikey', webhookSecret: 'whsec_hook' },
        buyer: { email: 'someone@example.com', id: 'user-1' },
        token: 'top-level-token',
        email: 'top@example.com',
      },
      'probe',
    );
    const text = JSON.stringify(lines);
    expect(text).toContain('probe');
    expect(text).toContain('user-1');
    for (const secret of ['eyJ.secret.jwt', 'sig-stripe', 'sig-paystack', 'cookie-value', 'pi_123_secret_abc', 'sk_live_apikey', 'whsec_hook', 'someone@example.com', 'top-level-token', 'top@example.com']) {
      expect(text, secret).not.toContain(secret);
    }
  });

  it('writes only what the configured level lets through', () => {
    const { log, lines } = capture('warn');
    log.info('quiet');
    log.warn('loud');
    expect(lines.map((l) => l['msg'])).toEqual(['loud']);
  });
});
