// Error reports over the wire: a node whose SENTRY_DSN points at a local stand-in for the tracker's
// ingest. A route that throws gives the stable 500 body and exactly one report, with its stack,
// request id, trace id and release, and none of the secrets that were in the request or in the
// error's message; a 4xx gives none. (Sentry keeps one client per process: every test that
// reports over the wire lives in this file.)
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { NoopSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTelemetry, type Telemetry } from '../../server/observability/telemetry.ts';
import type { TestDatabase, TestRedis } from '../helpers/databases.ts';
import type { TestServer } from '../helpers/server.ts';

// Before the server's modules load, as instrument.ts does in a real process: requests get trace ids.
const telemetry: Telemetry = startTelemetry({ serviceName: 'boxoffice-test', serviceVersion: '0.0.0', spanProcessors: [new NoopSpanProcessor()], detectResources: false });
const { createTestDatabase, createTestRedis } = await import('../helpers/databases.ts');
const { startTestServer, call } = await import('../helpers/server.ts');
const { signUp } = await import('../helpers/identity.ts');

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const PROJECT_ID = '4242';
const PUBLIC_KEY = 'f0e1d2c3b4a5968778695a4b3c2d1e0f';
const FAKE_BEARER = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJsZWFrZWQifQ.bGVha2VkLXNpZ25hdHVyZQ';
// Assembled here so no secret scanner mistakes the fixture for a leaked live key.
const FAKE_KEY = ['sk', 'live', '51LeakedKeyAbCdEfGh123'].join('_');
const BUYER_EMAIL = 'crash-buyer@example.com';
const COOKIE = 'bo_session=cookie-value-that-must-not-leak';
const TRACE_ID = '5a1d0c7e9b3f4e2a8c6d1b0f7e9a3c5d';

interface Envelope {
  path: string;
  raw: string;
  items: { header: { type?: string }; payload: Record<string, unknown> }[];
}

/** A stand-in for the tracker's ingest: keeps every envelope it is sent. */
async function startIngest(): Promise<{ server: Server; port: number; envelopes: Envelope[] }> {
  const envelopes: Envelope[] = [];
  const read = async (req: IncomingMessage): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    return req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
  };
  const server = createServer((req, res) => {
    void read(req).then((body) => {
      const raw = body.toString('utf8');
      const lines = raw.split('\n').filter((line) => line.trim() !== '');
      const items: Envelope['items'] = [];
      for (let i = 1; i + 1 < lines.length; i += 2) {
        items.push({ header: JSON.parse(lines[i]!) as { type?: string }, payload: JSON.parse(lines[i + 1]!) as Record<string, unknown> });
      }
      envelopes.push({ path: req.url ?? '', raw, items });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, envelopes };
}

describe('error tracking', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let node: TestServer;
  let ingest: Awaited<ReturnType<typeof startIngest>>;
  const events = () => ingest.envelopes.flatMap((e) => e.items.filter((item) => item.header.type === 'event'));

  beforeAll(async () => {
    [db, redis, ingest] = await Promise.all([createTestDatabase(), createTestRedis(), startIngest()]);
    node = await startTestServer(
      db,
      redis,
      { SENTRY_DSN: `http://${PUBLIC_KEY}@127.0.0.1:${ingest.port}/${PROJECT_ID}`, SENTRY_ENVIRONMENT: 'ci' },
      {
        apiPlugins: [
          (api) =>
            void api.get('/crash', { config: { policy: 'user' } }, () => {
              throw new Error(`payment provider refused Bearer ${FAKE_BEARER} with ${FAKE_KEY} for ${BUYER_EMAIL}`);
            }),
        ],
      },
    );
  });
  afterAll(async () => {
    await node?.stop();
    await node?.server.errorTracker.close(2_000);
    await new Promise((resolve) => ingest?.server.close(resolve));
    await Promise.all([db?.drop(), redis?.cleanup()]);
    await telemetry.shutdown();
  });

  it('reports a 5xx once, with stack, request id, trace id and release, and no secrets', async () => {
    const buyer = await signUp(node.api, db.sql, BUYER_EMAIL);
    const res = await call(`${node.api}/crash`, { token: buyer.accessToken, headers: { cookie: COOKIE, traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01` } });
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: { code: 'internal', message: 'internal error' } });
    const requestId = res.headers.get('x-request-id');
    expect(requestId).toBeTruthy();

    expect(await node.server.errorTracker.flush(5_000)).toBe(true);
    const reported = events();
    expect(reported).toHaveLength(1);
    expect(ingest.envelopes[0]!.path).toMatch(new RegExp(`^/api/${PROJECT_ID}/envelope/`));
    const event = reported[0]!.payload as {
      release?: string;
      environment?: string;
      tags?: Record<string, string>;
      exception?: { values?: { type?: string; value?: string; stacktrace?: { frames?: { function?: string; filename?: string }[] } }[] };
      contexts?: { trace?: { trace_id?: string } };
    };
    const exception = event.exception?.values?.at(-1);
    expect(exception?.type).toBe('Error');
    expect(exception?.value).toBe('payment provider refused Bearer [redacted] with [redacted] for [redacted]');
    expect(exception?.stacktrace?.frames?.some((f) => f.filename?.includes('error-tracking.int.test.ts'))).toBe(true);
    expect(event.tags).toMatchObject({ request_id: requestId, route: '/api/v1/crash', method: 'GET', source: 'http', release: `boxoffice@${VERSION}`, environment: 'ci' });
    // The trace the request came in with (the caller's traceparent), as in the logs.
    expect(event.tags?.['trace_id']).toBe(TRACE_ID);
    expect(event.tags?.['span_id']).toMatch(/^[0-9a-f]{16}$/);
    expect(event.contexts?.trace?.trace_id).toBe(event.tags?.['trace_id']);
    expect(event.release).toBe(`boxoffice@${VERSION}`);
    expect(event.environment).toBe('ci');

    const raw = ingest.envelopes.map((e) => e.raw).join('\n');
    for (const secret of [FAKE_BEARER, FAKE_KEY, BUYER_EMAIL, buyer.accessToken, buyer.refreshToken, 'cookie-value-that-must-not-leak', 'bo_session']) {
      expect(raw.includes(secret), `the report holds ${secret.slice(0, 12)}...`).toBe(false);
    }
    expect(raw.toLowerCase()).not.toContain('"authorization"');
    expect(raw.toLowerCase()).not.toContain('"cookie"');
  });

  it('never reports a 4xx', async () => {
    const before = events().length;
    expect((await call(`${node.api}/crash`)).status).toBe(401);
    expect((await call(`${node.api}/no-such-route`, { headers: { cookie: COOKIE } })).status).toBe(404);
    expect((await call(`${node.api}/auth/register`, { body: { email: 'not-an-email' } })).status).toBe(400);
    expect(await node.server.errorTracker.flush(5_000)).toBe(true);
    expect(events()).toHaveLength(before);
  });
});
