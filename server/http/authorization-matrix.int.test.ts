// The authorization matrix, built from the live route table: every guarded route x every kind of
// caller. A new route is covered the moment it is registered; a route without a policy cannot be
// registered at all.
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '../../test/helpers/databases.ts';
import { testConfig } from '../../test/helpers/config.ts';
import { adminTokens, organizerTokens, signIn, signUp, type Tokens } from '../../test/helpers/identity.ts';
import { call, startTestServer, type TestServer } from '../../test/helpers/server.ts';
import type { Policy, RouteEntry } from './policy.ts';

type Caller = 'anonymous' | 'customer' | 'otherCustomer' | 'organizer' | 'otherOrganizer' | 'admin' | 'device';
const CALLERS: Caller[] = ['anonymous', 'customer', 'otherCustomer', 'organizer', 'otherOrganizer', 'admin', 'device'];
const PASSWORD = 'a long enough passphrase';

/** Valid bodies where a route needs one, so the policy (not validation) decides the answer. */
const BODIES: Record<string, unknown> = {
  'POST /api/v1/organizer/events/:eventId/devices': { name: 'matrix device' },
  'POST /api/v1/me/organizer-request': { organizationName: 'Matrix again' },
  'POST /api/v1/organizer/events': {
    title: 'Matrix made',
    timezone: 'UTC',
    startsAt: '2031-01-02T20:00:00Z',
    endsAt: '2031-01-02T23:00:00Z',
    salesStartAt: '2030-12-01T00:00:00Z',
    salesEndAt: '2031-01-02T19:00:00Z',
  },
  'POST /api/v1/organizer/events/:eventId/ticket-types': { name: 'Matrix GA', kind: 'general', priceMinor: 100, currency: 'EUR', capacity: 10 },
  'PUT /api/v1/organizer/events/:eventId/seat-map': {
    sections: [{ name: 'S', rows: [{ label: 'A', ticketTypeId: '00000000-0000-4000-8000-000000000000', seats: ['1'] }] }],
  },
  'POST /api/v1/organizer/events/:eventId/promo-codes': { code: 'MATRIX', percentOff: 10 },
  'POST /api/v1/organizer/events/:eventId/purchases/:purchaseId/refunds': { reason: 'matrix refund' },
};

/** 'allow' means: not refused for who the caller is (any status but 401/403, and never 5xx). */
function expected(policy: Policy, caller: Caller, route: RouteEntry): 'allow' | 401 | 403 | 404 {
  if (policy === 'public') return 'allow';
  if (caller === 'anonymous') return 401;
  if (policy === 'device') return caller === 'device' ? 'allow' : 403;
  if (caller === 'device') return 403;
  if (policy === 'user') return 'allow';
  if (policy === 'admin') return caller === 'admin' ? 'allow' : 403;
  // organizer
  if (caller === 'customer' || caller === 'otherCustomer') return 403;
  if (caller === 'otherOrganizer' && route.url.includes(':eventId')) return 404;
  return 'allow';
}

describe('authorization matrix', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let node: TestServer;
  const emails: Record<Exclude<Caller, 'anonymous' | 'device'>, string> = {
    customer: 'm-customer@example.com',
    otherCustomer: 'm-other-customer@example.com',
    organizer: 'm-organizer@example.com',
    otherOrganizer: 'm-other-organizer@example.com',
    admin: 'm-admin@example.com',
  };
  const tokens = new Map<Caller, string | undefined>();
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    [db, redis] = await Promise.all([createTestDatabase(), createTestRedis()]);
    node = await startTestServer(db, redis, {
      RATE_LIMIT_AUTH_PER_IP_PER_15_MIN: '100000',
      RATE_LIMIT_AUTH_PER_ACCOUNT_PER_15_MIN: '100000',
      RATE_LIMIT_GLOBAL_PER_MINUTE: '100000',
    });
    const admin: Tokens = await adminTokens(node.api, db.sql, emails.admin);
    const organizer = await organizerTokens(node.api, db.sql, emails.organizer, admin);
    const otherOrganizer = await organizerTokens(node.api, db.sql, emails.otherOrganizer, admin);
    const customer = await signUp(node.api, db.sql, emails.customer);
    const otherCustomer = await signUp(node.api, db.sql, emails.otherCustomer);
    const [event] = await db.sql<{ id: string }[]>`
      insert into events (organizer_id, slug, title, timezone, starts_at, ends_at, sales_start_at, sales_end_at)
      values (${organizer.user.id}, 'matrix-event', 'Matrix', 'UTC', now() + interval '10 days', now() + interval '11 days', now(), now() + interval '9 days')
      returning id`;
    ids['eventId'] = event!.id;
    const device = await call<{ id: string; token: string }>(`${node.api}/organizer/events/${event!.id}/devices`, {
      token: organizer.accessToken,
      body: { name: 'matrix gate' },
    });
    // The :deviceId of the revoke route is a second device, so revoking it keeps the caller's one alive.
    const spare = await call<{ id: string }>(`${node.api}/organizer/events/${event!.id}/devices`, {
      token: organizer.accessToken,
      body: { name: 'spare gate' },
    });
    ids['deviceId'] = spare.body.id;
    const request = await call<{ id: string }>(`${node.api}/me/organizer-request`, {
      token: otherCustomer.accessToken,
      body: { organizationName: 'Matrix org' },
    });
    ids['requestId'] = request.body.id;
    tokens.set('anonymous', undefined);
    tokens.set('customer', customer.accessToken);
    tokens.set('otherCustomer', otherCustomer.accessToken);
    tokens.set('organizer', organizer.accessToken);
    tokens.set('otherOrganizer', otherOrganizer.accessToken);
    tokens.set('admin', admin.accessToken);
    tokens.set('device', device.body.token);
  });
  afterAll(async () => {
    await node.stop();
    await Promise.all([db.drop(), redis.cleanup()]);
  });

  it('covers every guarded route, and each one refuses exactly the callers its policy names', async () => {
    const routes = node.server.routes.filter((r) => r.url.startsWith('/api/v1'));
    expect(routes.length).toBeGreaterThanOrEqual(15);
    // Session-ending routes run last, with a fresh session each, so they end nobody else's.
    const ordered = [...routes].sort((x, y) => Number(x.url.includes('logout')) - Number(y.url.includes('logout')));
    const failures: string[] = [];
    let checked = 0;
    for (const route of ordered) {
      for (const caller of CALLERS) {
        const path = route.url.replace(/:(\w+)/g, (_, name: string) => ids[name] ?? '00000000-0000-4000-8000-000000000000');
        let token = tokens.get(caller);
        if (route.url.includes('logout') && caller !== 'anonymous' && caller !== 'device') {
          token = (await signIn(node.api, emails[caller], PASSWORD)).accessToken;
        }
        const res = await call(`${node.api}${path.replace('/api/v1', '')}`, {
          method: route.method,
          token,
          ...(route.method === 'GET' || route.method === 'DELETE' ? {} : { body: BODIES[`${route.method} ${route.url}`] ?? {} }),
        });
        const want = expected(route.policy, caller, route);
        const ok = want === 'allow' ? ![401, 403].includes(res.status) && res.status < 500 : res.status === want;
        checked++;
        if (!ok) failures.push(`${route.method} ${route.url} as ${caller}: got ${res.status}, want ${want}`);
      }
    }
    expect(failures).toEqual([]);
    expect(checked).toBe(routes.length * CALLERS.length);
  });

  it('the OpenAPI document lists every route, with its request schemas', async () => {
    const res = await fetch(`${node.url}/docs/json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { paths: Record<string, Record<string, { requestBody?: unknown; parameters?: unknown[] }>> };
    const missing: string[] = [];
    for (const route of node.server.routes.filter((r) => r.url.startsWith('/api/v1'))) {
      const path = route.url.replace(/:(\w+)/g, '{$1}');
      const operation = doc.paths[path]?.[route.method.toLowerCase()];
      if (!operation) missing.push(`${route.method} ${path}`);
      else if (route.url.includes(':') && !operation.parameters?.length) missing.push(`${route.method} ${path} (no parameters)`);
      else if (['POST', 'PUT', 'PATCH'].includes(route.method) && BODIES[`${route.method} ${route.url}`] && !operation.requestBody) {
        missing.push(`${route.method} ${path} (no body schema)`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('a route registered without a policy stops the app from starting', async () => {
    await expect(
      buildApp({
        config: testConfig(),
        log: pino({ level: 'silent' }),
        readiness: [],
        isShuttingDown: () => false,
        apiPlugins: [(api) => void api.get('/unguarded', () => ({ oops: true }))],
      }),
    ).rejects.toThrow(/GET \/api\/v1\/unguarded has no authorization policy/);
  });
});
