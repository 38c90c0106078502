// The HTTP shell every capability stands on: one stable error body for every kind of bad input
// (never a 5xx, never logged as an error), request ids, redaction, security headers, CORS, docs.
import { connect } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildApp } from '../app.ts';
import { AppError } from '../errors.ts';
import { loggerOptions } from '../observability/index.ts';
import { testConfig } from '../../test/helpers/config.ts';
import type { App } from './types.ts';

interface LogLine {
  level: number;
  msg: string;
  requestId?: string;
  [key: string]: unknown;
}

async function shell(env: Record<string, string> = {}, shuttingDown = false) {
  const lines: LogLine[] = [];
  const log = pino(loggerOptions({ level: 'info', pretty: false }), { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  const app = await buildApp({
    config: testConfig({ LOG_LEVEL: 'info', ...env }),
    log,
    readiness: [],
    isShuttingDown: () => shuttingDown,
    apiPlugins: [
      (api: App) => {
        api.post(
          '/echo',
          {
            config: { policy: 'public' },
            schema: {
              body: z.object({ name: z.string().min(1).max(20), quantity: z.number().int().positive() }),
              querystring: z.object({ limit: z.coerce.number().int().min(1).max(100).optional() }),
            },
          },
          (request) => ({ ...request.body, limit: request.query.limit ?? null }),
        );
        api.get('/boom', { config: { policy: 'public' } }, () => {
          throw new Error('db password is hunter2');
        });
        api.get('/conflict', { config: { policy: 'public' } }, () => {
          throw new AppError('conflict', 'that seat was just taken', { seat: 'A-1' });
        });
      },
    ],
  });
  return { app, lines };
}

/** Writes raw bytes to a listening app and resolves with everything it sent back before closing. */
async function rawExchange(target: App, bytes: string): Promise<string> {
  const address = await target.listen({ host: '127.0.0.1', port: 0 });
  return new Promise<string>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: Number(new URL(address).port) });
    let data = '';
    socket.on('data', (chunk) => (data += chunk.toString()));
    socket.on('close', () => resolve(data));
    socket.on('error', reject);
    socket.write(bytes);
  });
}

describe('HTTP shell', () => {
  let app: App;
  let lines: LogLine[];

  beforeAll(async () => {
    ({ app, lines } = await shell({ BODY_LIMIT_BYTES: '1024' }));
  });
  afterAll(async () => {
    await app.close();
  });

  const post = (payload: string, contentType = 'application/json', url = '/api/v1/echo') =>
    app.inject({ method: 'POST', url, payload, headers: { 'content-type': contentType } });

  describe('bad input gets a 4xx with the stable body, never a 5xx, logged below error', () => {
    const cases: [string, () => ReturnType<typeof post>, number, string][] = [
      ['malformed JSON', () => post('{"name": "x", '), 400, 'malformed_json'],
      ['empty JSON body', () => post(''), 400, 'malformed_json'],
      ['wrong content type', () => post('name=x', 'text/plain'), 415, 'unsupported_media_type'],
      ['unknown content type', () => post('<a/>', 'application/xml'), 415, 'unsupported_media_type'],
      ['oversized body', () => post(JSON.stringify({ name: 'x'.repeat(2000), quantity: 1 })), 413, 'payload_too_large'],
      ['missing field', () => post(JSON.stringify({ name: 'x' })), 400, 'validation_failed'],
      ['wrong field type', () => post(JSON.stringify({ name: 'x', quantity: 'two' })), 400, 'validation_failed'],
      ['bad query param', () => post(JSON.stringify({ name: 'x', quantity: 1 }), 'application/json', '/api/v1/echo?limit=0'), 400, 'validation_failed'],
      ['non-numeric query param', () => post(JSON.stringify({ name: 'x', quantity: 1 }), 'application/json', '/api/v1/echo?limit=abc'), 400, 'validation_failed'],
      ['unknown route', () => app.inject({ method: 'GET', url: '/api/v1/nope' }), 404, 'not_found'],
      ['wrong method on a known path', () => app.inject({ method: 'DELETE', url: '/api/v1/echo' }), 404, 'not_found'],
      ['prototype pollution attempt', () => post('{"__proto__": {"admin": true}, "name": "x", "quantity": 1}'), 400, 'malformed_json'],
    ];
    for (const [name, send, status, code] of cases) {
      it(name, async () => {
        const before = lines.length;
        const res = await send();
        expect(res.statusCode).toBe(status);
        const body = res.json<{ error: { code: string; message: string } }>();
        expect(body.error.code).toBe(code);
        expect(typeof body.error.message).toBe('string');
        expect(Object.keys(body)).toEqual(['error']);
        const logged = lines.slice(before);
        expect(logged.length).toBeGreaterThan(0);
        expect(logged.every((l) => l.level < 50)).toBe(true);
      });
    }

    it('names the offending fields', async () => {
      const res = await post(JSON.stringify({ name: '', quantity: -1 }), 'application/json', '/api/v1/echo');
      const issues = res.json<{ error: { details: { issues: { path: string }[] } } }>().error.details.issues.map((i) => i.path);
      expect(issues).toEqual(expect.arrayContaining(['body.name', 'body.quantity']));
      const query = await post(JSON.stringify({ name: 'x', quantity: 1 }), 'application/json', '/api/v1/echo?limit=500');
      expect(JSON.stringify(query.json())).toContain('querystring.limit');
    });
  });

  it('answers good input', async () => {
    const res = await post(JSON.stringify({ name: 'x', quantity: 2 }), 'application/json', '/api/v1/echo?limit=5');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ name: 'x', quantity: 2, limit: 5 });
  });

  it('a bug is a 500 with no internals in the body, logged at error', async () => {
    const before = lines.length;
    const res = await app.inject({ method: 'GET', url: '/api/v1/boom' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: { code: 'internal', message: 'internal error' } });
    expect(res.body).not.toContain('hunter2');
    expect(lines.slice(before).some((l) => l.level === 50)).toBe(true);
  });

  it('an AppError keeps its code, message and details', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/conflict' });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toEqual({ error: { code: 'conflict', message: 'that seat was just taken', details: { seat: 'A-1' } } });
  });

  describe('request ids', () => {
    it('echoes a sane incoming id and logs it', async () => {
      const res = await app.inject({ method: 'GET', url: '/api/v1', headers: { 'x-request-id': 'edge-abc-123' } });
      expect(res.headers['x-request-id']).toBe('edge-abc-123');
      expect(lines.some((l) => l.requestId === 'edge-abc-123' && l.msg === 'request completed')).toBe(true);
    });

    it('replaces an unsafe one and generates one when absent', async () => {
      const unsafe = await app.inject({ method: 'GET', url: '/api/v1', headers: { 'x-request-id': 'has spaces\tand tabs' } });
      expect(unsafe.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      const long = await app.inject({ method: 'GET', url: '/api/v1', headers: { 'x-request-id': 'x'.repeat(300) } });
      expect(long.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      const none = await app.inject({ method: 'GET', url: '/api/v1' });
      expect(none.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      // Errors carry it too.
      expect((await app.inject({ method: 'GET', url: '/nope' })).headers['x-request-id']).toBeDefined();
    });
  });

  it('redacts authorization headers and secrets from logs', async () => {
    await app.inject({ method: 'GET', url: '/api/v1', headers: { authorization: 'Bearer secret-token-xyz' } });
    app.log.info({ req: { headers: { authorization: 'Bearer secret-token-xyz' } }, user: { password: 'p4ss-word', token: 't0ken' } }, 'probe');
    const text = JSON.stringify(lines);
    expect(text).toContain('probe');
    expect(text).not.toContain('secret-token-xyz');
    expect(text).not.toContain('p4ss-word');
    expect(text).not.toContain('t0ken');
  });

  it('sends security headers on every response, errors included', async () => {
    for (const url of ['/api/v1', '/nope', '/health/live']) {
      const res = await app.inject({ method: 'GET', url });
      const csp = String(res.headers['content-security-policy']);
      expect(csp).toContain("object-src 'none'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['referrer-policy']).toBe('strict-origin-when-cross-origin');
      expect(res.headers['strict-transport-security']).toBeUndefined();
    }
  });

  it('sends HSTS for at least a year in production', async () => {
    const prod = await shell({
      NODE_ENV: 'production',
      JWT_SECRET: 'k'.repeat(10) + 'production-grade-secret-value-123',
      CORS_ORIGINS: 'https://tickets.example',
      PAYMENT_PROVIDER: 'stripe',
      STRIPE_SECRET_KEY: 'sk_test_shellonly0000',
      STRIPE_WEBHOOK_SECRET: 'whsec_shellonly0000',
      MAILER: 'smtp',
      SMTP_URL: 'smtp://mail.example:587',
      METRICS_PORT: '9464',
    });
    try {
      const res = await prod.app.inject({ method: 'GET', url: '/api/v1' });
      const maxAge = Number(/max-age=(\d+)/.exec(String(res.headers['strict-transport-security']))?.[1]);
      expect(maxAge).toBeGreaterThanOrEqual(31_536_000);
      // And no docs in production.
      expect((await prod.app.inject({ method: 'GET', url: '/docs/json' })).statusCode).toBe(404);
    } finally {
      await prod.app.close();
    }
  });

  describe('CORS', () => {
    it('allows listed origins with credentials', async () => {
      const res = await app.inject({ method: 'GET', url: '/api/v1', headers: { origin: 'http://localhost:3000' } });
      expect(res.headers['access-control-allow-origin']).toBe('http://localhost:3000');
      expect(res.headers['access-control-allow-credentials']).toBe('true');
      const preflight = await app.inject({
        method: 'OPTIONS',
        url: '/api/v1/echo',
        headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
      expect(preflight.statusCode).toBe(204);
      expect(preflight.headers['access-control-allow-methods']).toContain('POST');
    });

    it('gives unlisted origins nothing', async () => {
      const res = await app.inject({ method: 'GET', url: '/api/v1', headers: { origin: 'https://evil.example' } });
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    });
  });

  describe('API docs', () => {
    it('serve an OpenAPI document generated from the route schemas in development', async () => {
      const res = await app.inject({ method: 'GET', url: '/docs/json' });
      expect(res.statusCode).toBe(200);
      const doc = res.json<{ openapi: string; paths: Record<string, Record<string, { requestBody?: unknown }>> }>();
      expect(doc.openapi).toMatch(/^3\./);
      expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1', '/api/v1/echo']));
      expect(doc.paths['/api/v1/echo']?.['post']?.requestBody).toBeDefined();
      expect((await app.inject({ method: 'GET', url: '/docs/' })).statusCode).toBe(200);
    });

    it('are absent when API_DOCS is off', async () => {
      const off = await shell({ API_DOCS: 'false' });
      try {
        expect((await off.app.inject({ method: 'GET', url: '/docs/json' })).statusCode).toBe(404);
        expect((await off.app.inject({ method: 'GET', url: '/docs' })).statusCode).toBe(404);
      } finally {
        await off.app.close();
      }
    });
  });

  it('GET /api/v1 describes the service', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1' });
    expect(res.json()).toMatchObject({ name: 'boxoffice', apiVersion: 'v1', docs: 'http://127.0.0.1:3000/docs' });
  });

  it('answers 503 with connection: close once shutdown has begun', async () => {
    const closing = await shell({}, true);
    try {
      const res = await closing.app.inject({ method: 'GET', url: '/api/v1' });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ error: { code: 'service_unavailable' } });
      expect(res.headers['connection']).toBe('close');
      expect((await closing.app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
    } finally {
      await closing.app.close();
    }
  });

  it('hangs up on a client that never finishes its request (slow-loris), without a 5xx', async () => {
    const slow = await shell({ REQUEST_TIMEOUT_MS: '300' });
    try {
      const started = performance.now();
      const reply = await rawExchange(
        slow.app,
        'POST /api/v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{"na',
      );
      // Bounded by the timeout (not by the 30 s test timeout): the server let go of the socket.
      expect(performance.now() - started).toBeLessThan(5_000);
      // Either a plain hang-up or a 408 with the stable body; never a 5xx.
      if (reply !== '') {
        expect(reply).toMatch(/^HTTP\/1\.1 408 /);
        expect(reply).toContain('"code":"request_timeout"');
      }
    } finally {
      await slow.app.close();
    }
  });

  it('answers malformed HTTP with 400 and the stable body', async () => {
    const raw = await shell();
    try {
      const reply = await rawExchange(raw.app, 'THIS IS NOT HTTP\r\n\r\n');
      expect(reply).toMatch(/^HTTP\/1\.1 400 /);
      expect(reply).toContain('"code":"bad_request"');
    } finally {
      await raw.app.close();
    }
  });
});
