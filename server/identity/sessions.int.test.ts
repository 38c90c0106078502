// Sessions and tokens across two server instances sharing Postgres and Redis: rotation, reuse
// detection, logout seen by every node at once, idle timeout, and every way to forge a JWT.
import { createHmac } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '../../test/helpers/databases.ts';
import { signIn, signUp, type Tokens } from '../../test/helpers/identity.ts';
import { call, startTestServer, type TestServer } from '../../test/helpers/server.ts';
import { TOKEN_AUDIENCE, TOKEN_ISSUER } from './index.ts';

// testConfig() runs with the development default secret; tokens signed with it are "ours".
const DEV_SECRET = 'dev-only-insecure-jwt-secret-do-not-use-in-production';

describe('sessions and tokens', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let a: TestServer;
  let b: TestServer;
  let user: Tokens;

  beforeAll(async () => {
    [db, redis] = await Promise.all([createTestDatabase(), createTestRedis()]);
    const env = { RATE_LIMIT_AUTH_PER_IP_PER_15_MIN: '1000', RATE_LIMIT_AUTH_PER_ACCOUNT_PER_15_MIN: '1000' };
    [a, b] = await Promise.all([startTestServer(db, redis, env), startTestServer(db, redis, env)]);
    user = await signUp(a.api, db.sql, 'holder@example.com');
  });
  afterAll(async () => {
    await Promise.all([a.stop(), b.stop()]);
    await Promise.all([db.drop(), redis.cleanup()]);
  });

  const me = (server: TestServer, token: string) => call(`${server.api}/me`, { token });

  it('an access token works on every node', async () => {
    expect((await me(a, user.accessToken)).status).toBe(200);
    expect((await me(b, user.accessToken)).status).toBe(200);
  });

  it('logout on one node is refused by the other within one request', async () => {
    const session = await signIn(a.api, 'holder@example.com');
    expect((await me(b, session.accessToken)).status).toBe(200);
    expect((await call(`${a.api}/auth/logout`, { method: 'POST', token: session.accessToken })).status).toBe(204);
    const after = await me(b, session.accessToken);
    expect(after.status).toBe(401);
    expect(after.body).toMatchObject({ error: { code: 'unauthorized', details: { reason: 'session_revoked' } } });
    // The refresh token of that session is dead too.
    expect((await call(`${b.api}/auth/refresh`, { body: { refreshToken: session.refreshToken } })).status).toBe(401);
    // Other sessions of the same account are untouched.
    expect((await me(a, user.accessToken)).status).toBe(200);
  });

  it('rotates refresh tokens, and reuse of a retired one revokes the whole family at once', async () => {
    const first = await signIn(a.api, 'holder@example.com');
    const second = await call<Tokens>(`${a.api}/auth/refresh`, { body: { refreshToken: first.refreshToken } });
    expect(second.status).toBe(200);
    expect(second.body.refreshToken).not.toBe(first.refreshToken);
    const third = await call<Tokens>(`${b.api}/auth/refresh`, { body: { refreshToken: second.body.refreshToken } });
    expect(third.status).toBe(200);
    expect((await me(b, third.body.accessToken)).status).toBe(200);

    // An attacker replays the first (retired) refresh token.
    const replay = await call(`${b.api}/auth/refresh`, { body: { refreshToken: first.refreshToken } });
    expect(replay.status).toBe(401);
    expect(replay.body).toMatchObject({ error: { details: { reason: 'refresh_reused' } } });

    // The legitimate holder's newest tokens are now refused too, on both nodes.
    expect((await call(`${a.api}/auth/refresh`, { body: { refreshToken: third.body.refreshToken } })).status).toBe(401);
    expect((await me(a, third.body.accessToken)).status).toBe(401);
    expect((await me(b, second.body.accessToken)).status).toBe(401);
    const [audit] = await db.sql<{ n: number }[]>`select count(*)::int as n from audit_log where action = 'identity.session.reuse_detected'`;
    expect(audit?.n).toBe(1);
  });

  it('log out everywhere ends every session of the account', async () => {
    const s1 = await signIn(a.api, 'holder@example.com');
    const s2 = await signIn(b.api, 'holder@example.com');
    const res = await call<{ sessionsEnded: number }>(`${b.api}/auth/logout-all`, { method: 'POST', token: s1.accessToken });
    expect(res.status).toBe(200);
    expect(res.body.sessionsEnded).toBeGreaterThanOrEqual(2);
    for (const token of [s1.accessToken, s2.accessToken, user.accessToken]) {
      expect((await me(a, token)).status).toBe(401);
      expect((await me(b, token)).status).toBe(401);
    }
    expect((await call(`${a.api}/auth/refresh`, { body: { refreshToken: s2.refreshToken } })).status).toBe(401);
  });

  it('a session idle longer than the timeout cannot be refreshed', async () => {
    const s = await signIn(a.api, 'holder@example.com');
    await db.sql`update sessions set last_used_at = now() - interval '13 hours' where revoked_at is null`;
    const res = await call(`${a.api}/auth/refresh`, { body: { refreshToken: s.refreshToken } });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: { details: { reason: 'session_idle' } } });
  });

  it('an expired refresh token is refused', async () => {
    const s = await signIn(a.api, 'holder@example.com');
    await db.sql`update refresh_tokens set expires_at = now() - interval '1 second' where rotated_at is null`;
    expect((await call(`${a.api}/auth/refresh`, { body: { refreshToken: s.refreshToken } })).status).toBe(401);
  });

  describe('forged and broken access tokens are refused', () => {
    let valid: Tokens;
    let claims: { sub: string; sid: string };

    beforeAll(async () => {
      valid = await signIn(a.api, 'holder@example.com');
      const payload = valid.accessToken.split('.')[1]!;
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { sub: string; sid: string };
    });

    const sign = (options: { secret?: string; aud?: string; iss?: string; exp?: number; role?: string; alg?: 'HS256' | 'HS512' }) =>
      new SignJWT({ sid: claims.sid, role: options.role ?? 'admin' })
        .setProtectedHeader({ alg: options.alg ?? 'HS256' })
        .setSubject(claims.sub)
        .setIssuer(options.iss ?? TOKEN_ISSUER)
        .setAudience(options.aud ?? TOKEN_AUDIENCE)
        .setIssuedAt()
        .setExpirationTime(options.exp ?? Math.floor(Date.now() / 1000) + 600)
        .setJti('forged')
        .sign(new TextEncoder().encode(options.secret ?? DEV_SECRET));

    it('the untampered token passes (the cases below differ in one thing each)', async () => {
      expect((await me(a, valid.accessToken)).status).toBe(200);
      expect((await me(a, await sign({ role: 'customer' }))).status).toBe(200);
    });

    it('alg none', async () => {
      const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
      const body = Buffer.from(JSON.stringify({ ...claims, role: 'admin', iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE, exp: 4102444800 })).toString('base64url');
      expect((await me(a, `${header}.${body}.`)).status).toBe(401);
    });

    it('wrong key, other algorithm, wrong audience, wrong issuer, expired', async () => {
      for (const token of [
        await sign({ secret: 'some-other-secret-of-enough-length-000000' }),
        await sign({ alg: 'HS512' }),
        await sign({ aud: 'someone-else' }),
        await sign({ iss: 'evil' }),
        await sign({ exp: Math.floor(Date.now() / 1000) - 120 }),
      ]) {
        const res = await me(a, token);
        expect(res.status).toBe(401);
        expect(res.body).toMatchObject({ error: { code: 'unauthorized' } });
      }
    });

    it('a payload edited after signing (role raised)', async () => {
      const [h, p, s] = valid.accessToken.split('.') as [string, string, string];
      const edited = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), role: 'admin' })).toString('base64url');
      expect((await me(a, `${h}.${edited}.${s}`)).status).toBe(401);
      // And a signature recomputed with a guessed key does not help either.
      const guessed = createHmac('sha256', 'secret').update(`${h}.${edited}`).digest('base64url');
      expect((await me(a, `${h}.${edited}.${guessed}`)).status).toBe(401);
    });

    it('garbage and malformed Authorization headers', async () => {
      for (const header of ['Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'Bearer not.a.jwt', `Bearer ${'x'.repeat(5000)}`, 'bearer']) {
        const res = await call(`${a.api}/me`, { headers: { authorization: header } });
        expect(res.status, header.slice(0, 20)).toBe(401);
      }
    });

    it('a bad token is refused even on a public route', async () => {
      const res = await call(`${a.api}/`, { token: 'not.a.jwt' });
      expect(res.status).toBe(401);
      expect((await call(`${a.api}/`)).status).toBe(200);
    });
  });
});
