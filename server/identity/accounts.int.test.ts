// Accounts over real HTTP, Postgres and Redis: registration by emailed code, password sign-in,
// no account enumeration, brute force stopped by rate limits, one-time code rules.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '../../test/helpers/databases.ts';
import { mailedCode, signUp, type Tokens } from '../../test/helpers/identity.ts';
import { call, startTestServer, type TestServer } from '../../test/helpers/server.ts';

const PASSWORD = 'a long enough passphrase';

describe('accounts', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let node: TestServer;

  beforeAll(async () => {
    [db, redis] = await Promise.all([createTestDatabase(), createTestRedis()]);
    node = await startTestServer(db, redis, {
      RATE_LIMIT_AUTH_PER_ACCOUNT_PER_15_MIN: '3',
      RATE_LIMIT_AUTH_PER_IP_PER_15_MIN: '1000',
    });
  });
  afterAll(async () => {
    await node.stop();
    await Promise.all([db.drop(), redis.cleanup()]);
  });

  it('registers through an emailed code, then signs in with the password', async () => {
    const tokens = await signUp(node.api, db.sql, 'Reg.User@Example.COM');
    expect(tokens.user).toMatchObject({ email: 'reg.user@example.com', role: 'customer' });
    const me = await call(`${node.api}/me`, { token: tokens.accessToken });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ email: 'reg.user@example.com', role: 'customer' });
    expect(me.body['emailVerifiedAt']).not.toBeNull();

    const login = await call<Tokens>(`${node.api}/auth/login`, { body: { email: 'reg.user@example.com', password: PASSWORD } });
    expect(login.status).toBe(200);
    expect(login.body.refreshToken).toMatch(/^bxr_/);
    // Stored as argon2id, never in clear.
    const [row] = await db.sql<{ password_hash: string }[]>`select password_hash from users where email = 'reg.user@example.com'`;
    expect(row?.password_hash).toMatch(/^\$argon2id\$/);
  });

  it('never returns the code in a response, and a register body cannot choose a role', async () => {
    const res = await call(`${node.api}/auth/register`, { body: { email: 'sneaky@example.com', password: PASSWORD, role: 'admin' } });
    expect(res.status).toBe(202);
    expect(JSON.stringify(res.body)).not.toMatch(/\d{6}/);
    const code = await mailedCode(db.sql, 'sneaky@example.com');
    const verified = await call<Tokens>(`${node.api}/auth/code/verify`, { body: { email: 'sneaky@example.com', code } });
    expect(verified.body.user.role).toBe('customer');
  });

  it('refuses weak passwords with a 4xx naming the field, and changes nothing', async () => {
    for (const password of ['short', 'password1234', 'aaaaaaaaaaaaaaaa', 'weakling-weakling-x']) {
      const res = await call(`${node.api}/auth/register`, { body: { email: 'weakling@example.com', password } });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: { code: 'validation_failed' } });
      expect(JSON.stringify(res.body)).toContain('body.password');
    }
    const [count] = await db.sql<{ n: number }[]>`select count(*)::int as n from login_codes where email = 'weakling@example.com'`;
    expect(count?.n).toBe(0);
  });

  it('answers an unknown email exactly like a wrong password (no enumeration)', async () => {
    await signUp(node.api, db.sql, 'known@example.com');
    const wrong = await call(`${node.api}/auth/login`, { body: { email: 'known@example.com', password: 'not the passphrase' } });
    const unknown = await call(`${node.api}/auth/login`, { body: { email: 'nobody@example.com', password: 'not the passphrase' } });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(unknown.body).toEqual(wrong.body);

    // Code requests look the same for known and unknown addresses too (past the resend cooldown).
    await db.sql`update login_codes set created_at = now() - interval '2 minutes' where email = 'known@example.com'`;
    const codeKnown = await call(`${node.api}/auth/code`, { body: { email: 'known@example.com' } });
    const codeUnknown = await call(`${node.api}/auth/code`, { body: { email: 'stranger@example.com' } });
    expect(codeKnown.status).toBe(202);
    expect(codeUnknown.body).toEqual(codeKnown.body);
  });

  it('takes similar time for unknown and known emails (the decoy hash runs)', async () => {
    const time = async (email: string) => {
      const started = performance.now();
      await call(`${node.api}/auth/login`, { body: { email, password: 'timing probe passphrase' } });
      return performance.now() - started;
    };
    await signUp(node.api, db.sql, 'timing@example.com');
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 3; i++) {
      known.push(await time('timing@example.com'));
      unknown.push(await time(`ghost${i}@example.com`));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]!;
    // argon2id dominates both paths; without the decoy the unknown path is ~100x faster.
    expect(median(unknown) / median(known)).toBeGreaterThan(0.3);
  });

  it('stops password brute force on an account with 429 and Retry-After, even for the right password', async () => {
    await signUp(node.api, db.sql, 'victim@example.com');
    for (let i = 0; i < 3; i++) {
      const res = await call(`${node.api}/auth/login`, { body: { email: 'victim@example.com', password: `guess number ${i}!` } });
      expect(res.status).toBe(401);
    }
    const blocked = await call(`${node.api}/auth/login`, { body: { email: 'victim@example.com', password: PASSWORD } });
    expect(blocked.status).toBe(429);
    expect(blocked.body).toMatchObject({ error: { code: 'rate_limited' } });
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(blocked.headers.get('ratelimit-limit')).toBe('3');
    // The limit is per account: another account signs in fine.
    const other = await call(`${node.api}/auth/login`, { body: { email: 'known@example.com', password: PASSWORD } });
    expect(other.status).toBe(200);
  });

  it('a successful sign-in does not count against the account limit', async () => {
    await signUp(node.api, db.sql, 'regular@example.com');
    for (let i = 0; i < 5; i++) {
      expect((await call(`${node.api}/auth/login`, { body: { email: 'regular@example.com', password: PASSWORD } })).status).toBe(200);
    }
  });

  it('a code allows 5 tries, then even the right code is refused', async () => {
    const email = 'otp-guess@example.com';
    await call(`${node.api}/auth/code`, { body: { email } });
    const code = await mailedCode(db.sql, email);
    const wrong = code === '000000' ? '111111' : '000000';
    const limited = await startTestServer(db, redis, {
      RATE_LIMIT_AUTH_PER_ACCOUNT_PER_15_MIN: '100',
      RATE_LIMIT_AUTH_PER_IP_PER_15_MIN: '1000',
    });
    try {
      for (let i = 0; i < 5; i++) {
        const res = await call(`${limited.api}/auth/code/verify`, { body: { email, code: wrong } });
        expect(res.status).toBe(401);
        expect(res.body).toMatchObject({ error: { code: 'unauthorized', details: { reason: 'invalid_code' } } });
      }
      const right = await call(`${limited.api}/auth/code/verify`, { body: { email, code } });
      expect(right.status).toBe(401);
    } finally {
      await limited.stop();
    }
    const [row] = await db.sql<{ attempts: number; consumed_at: Date | null }[]>`
      select attempts, consumed_at from login_codes where email = ${email} order by created_at desc limit 1`;
    expect(row).toEqual({ attempts: 5, consumed_at: null });
  });

  it('code guessing is also stopped per account by the rate limit', async () => {
    const email = 'otp-limit@example.com';
    await call(`${node.api}/auth/code`, { body: { email } });
    await mailedCode(db.sql, email);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await call(`${node.api}/auth/code/verify`, { body: { email, code: '12345' + String(i) } })).status);
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
  });

  it('a code expires after 5 minutes and is single-use', async () => {
    const email = 'otp-expiry@example.com';
    await call(`${node.api}/auth/code`, { body: { email } });
    const code = await mailedCode(db.sql, email);
    await db.sql`update login_codes set expires_at = now() - interval '1 second' where email = ${email}`;
    expect((await call(`${node.api}/auth/code/verify`, { body: { email, code } })).status).toBe(401);

    const fresh = await startTestServer(db, redis, { RATE_LIMIT_AUTH_PER_IP_PER_15_MIN: '1000' });
    try {
      await db.sql`delete from login_codes where email = ${email}`;
      const asked = new Date();
      await call(`${fresh.api}/auth/code`, { body: { email } });
      const second = await mailedCode(db.sql, email, asked);
      expect((await call(`${fresh.api}/auth/code/verify`, { body: { email, code: second } })).status).toBe(200);
      expect((await call(`${fresh.api}/auth/code/verify`, { body: { email, code: second } })).status).toBe(401);
    } finally {
      await fresh.stop();
    }
  });

  it('enforces the resend cooldown with 429 and Retry-After', async () => {
    const email = 'otp-resend@example.com';
    expect((await call(`${node.api}/auth/code`, { body: { email } })).status).toBe(202);
    const again = await call(`${node.api}/auth/code`, { body: { email } });
    expect(again.status).toBe(429);
    expect(Number(again.headers.get('retry-after'))).toBeGreaterThan(0);
    const [count] = await db.sql<{ n: number }[]>`select count(*)::int as n from login_codes where email = ${email}`;
    expect(count?.n).toBe(1);
  });

  it('rejects malformed input with 4xx and the stable body', async () => {
    const cases: [string, unknown][] = [
      ['/auth/login', { email: 'not-an-email', password: 'x' }],
      ['/auth/login', { email: 'a@b.co' }],
      ['/auth/code/verify', { email: 'a@b.co', code: '12ab56' }],
      ['/auth/register', { email: `${'x'.repeat(250)}@example.com`, password: PASSWORD }],
      ['/auth/refresh', { refreshToken: '' }],
    ];
    for (const [path, body] of cases) {
      const res = await call(`${node.api}${path}`, { body });
      expect(res.status, path).toBe(400);
      expect(res.body).toMatchObject({ error: { code: 'validation_failed' } });
    }
  });
});
