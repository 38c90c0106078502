// Rate limits shared through Redis: the global per-IP limit, the strict per-IP limit on sign-in,
// per-user and webhook route limits, and X-Forwarded-For honoured only from a trusted proxy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '../../test/helpers/databases.ts';
import { signUp } from '../../test/helpers/identity.ts';
import { call, startTestServer } from '../../test/helpers/server.ts';

describe('rate limits', () => {
  let db: TestDatabase;
  const spaces: TestRedis[] = [];

  /** Each case gets its own Redis key space, so counters never leak between cases. */
  async function keySpace(): Promise<TestRedis> {
    const space = await createTestRedis();
    spaces.push(space);
    return space;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await Promise.all(spaces.map((s) => s.cleanup()));
    await db.drop();
  });

  it('limits every client IP globally, with Retry-After and RateLimit headers; health is exempt', async () => {
    const node = await startTestServer(db, await keySpace(), { RATE_LIMIT_GLOBAL_PER_MINUTE: '5' });
    try {
      const statuses: number[] = [];
      let last: Awaited<ReturnType<typeof call>> | undefined;
      for (let i = 0; i < 6; i++) {
        last = await call(`${node.api}/`);
        statuses.push(last.status);
      }
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
      expect(last!.body).toMatchObject({ error: { code: 'rate_limited' } });
      expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(last!.headers.get('ratelimit-limit')).toBe('5');
      expect(last!.headers.get('ratelimit-remaining')).toBe('0');
      for (let i = 0; i < 10; i++) expect((await fetch(`${node.url}/health/live`)).status).toBe(200);
    } finally {
      await node.stop();
    }
  });

  it('a spoofed X-Forwarded-For does not get around the limit when no proxy is trusted', async () => {
    const node = await startTestServer(db, await keySpace(), { RATE_LIMIT_GLOBAL_PER_MINUTE: '3' });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        statuses.push((await call(`${node.api}/`, { headers: { 'x-forwarded-for': `203.0.113.${i}` } })).status);
      }
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
    } finally {
      await node.stop();
    }
  });

  it('behind a trusted proxy, each forwarded client has its own bucket', async () => {
    const node = await startTestServer(db, await keySpace(), { RATE_LIMIT_GLOBAL_PER_MINUTE: '2', TRUSTED_PROXIES: '127.0.0.1' });
    try {
      const as = (ip: string) => call(`${node.api}/`, { headers: { 'x-forwarded-for': ip } }).then((r) => r.status);
      expect([await as('198.51.100.1'), await as('198.51.100.1'), await as('198.51.100.1')]).toEqual([200, 200, 429]);
      expect(await as('198.51.100.2')).toBe(200);
    } finally {
      await node.stop();
    }
  });

  it('sign-in routes have a strict per-IP limit across accounts', async () => {
    const node = await startTestServer(db, await keySpace(), { RATE_LIMIT_AUTH_PER_IP_PER_15_MIN: '3' });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        statuses.push((await call(`${node.api}/auth/login`, { body: { email: `spray${i}@example.com`, password: 'spraying passwords' } })).status);
      }
      expect(statuses).toEqual([401, 401, 401, 429]);
    } finally {
      await node.stop();
    }
  });

  it('route limits: purchases per signed-in user, webhooks per IP', async () => {
    const node = await startTestServer(
      db,
      await keySpace(),
      { RATE_LIMIT_PURCHASES_PER_USER_PER_MINUTE: '2', RATE_LIMIT_WEBHOOKS_PER_MINUTE: '2', RATE_LIMIT_AUTH_PER_IP_PER_15_MIN: '100' },
      {
        apiPlugins: [
          (api) => {
            api.post('/limited-purchase', { config: { policy: 'user' }, preHandler: api.routeLimits.purchases }, () => ({ ok: true }));
            api.post('/limited-webhook', { config: { policy: 'public' }, preHandler: api.routeLimits.webhooks }, () => ({ ok: true }));
          },
        ],
      },
    );
    try {
      const alice = await signUp(node.api, db.sql, 'limit-alice@example.com');
      const bob = await signUp(node.api, db.sql, 'limit-bob@example.com');
      const buy = (token: string) => call(`${node.api}/limited-purchase`, { token, body: {} }).then((r) => r.status);
      expect([await buy(alice.accessToken), await buy(alice.accessToken), await buy(alice.accessToken)]).toEqual([200, 200, 429]);
      expect(await buy(bob.accessToken)).toBe(200);
      const hook = () => call(`${node.api}/limited-webhook`, { body: {} }).then((r) => r.status);
      expect([await hook(), await hook(), await hook()]).toEqual([200, 200, 429]);
    } finally {
      await node.stop();
    }
  });
});
