// Roles that cannot be self-granted: a customer becomes organizer only through an admin's
// approval; the admin comes from the CLI; every step lands in the audit log. Scanner devices:
// created by the event's organizer, shown once, revocable at once.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '../../test/helpers/databases.ts';
import { adminTokens, organizerTokens, signIn, signUp, type Tokens } from '../../test/helpers/identity.ts';
import { call, startTestServer, type TestServer } from '../../test/helpers/server.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

async function createEvent(db: TestDatabase, organizerId: string, slug: string): Promise<string> {
  const [row] = await db.sql<{ id: string }[]>`
    insert into events (organizer_id, slug, title, timezone, starts_at, ends_at, sales_start_at, sales_end_at)
    values (${organizerId}, ${slug}, ${slug}, 'UTC', now() + interval '10 days', now() + interval '11 days', now(), now() + interval '9 days')
    returning id`;
  return row!.id;
}

describe('roles and devices', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let node: TestServer;
  let admin: Tokens;

  beforeAll(async () => {
    [db, redis] = await Promise.all([createTestDatabase(), createTestRedis()]);
    node = await startTestServer(db, redis, { RATE_LIMIT_AUTH_PER_IP_PER_15_MIN: '1000' });
    admin = await adminTokens(node.api, db.sql, 'root@example.com');
  });
  afterAll(async () => {
    await node.stop();
    await Promise.all([db.drop(), redis.cleanup()]);
  });

  it('a customer cannot become organizer on their own', async () => {
    const customer = await signUp(node.api, db.sql, 'wannabe@example.com');
    const request = await call<{ id: string; status: string }>(`${node.api}/me/organizer-request`, {
      token: customer.accessToken,
      body: { organizationName: 'Wannabe Events', message: 'please' },
    });
    expect(request.status).toBe(201);
    expect(request.body.status).toBe('pending');

    // Approving one's own request, or listing requests, needs admin.
    const selfApprove = await call(`${node.api}/admin/organizer-requests/${request.body.id}/approve`, { token: customer.accessToken, body: {} });
    expect(selfApprove.status).toBe(403);
    expect((await call(`${node.api}/admin/organizer-requests`, { token: customer.accessToken })).status).toBe(403);
    // Organizer routes stay closed while pending, even after a refresh.
    const refreshed = await call<Tokens>(`${node.api}/auth/refresh`, { body: { refreshToken: customer.refreshToken } });
    expect(refreshed.body.user.role).toBe('customer');
    const [role] = await db.sql<{ role: string }[]>`select role from users where email = 'wannabe@example.com'`;
    expect(role?.role).toBe('customer');

    // A second pending request is a conflict.
    const again = await call(`${node.api}/me/organizer-request`, { token: customer.accessToken, body: { organizationName: 'Again' } });
    expect(again.status).toBe(409);
  });

  it('an admin approves; the role arrives with the next token; who, whom, when and why are audited', async () => {
    const customer = await signUp(node.api, db.sql, 'promoter@example.com');
    const request = await call<{ id: string }>(`${node.api}/me/organizer-request`, {
      token: customer.accessToken,
      body: { organizationName: 'Promoter Ltd' },
    });
    const pending = await call<{ items: { id: string }[] }>(`${node.api}/admin/organizer-requests?status=pending`, { token: admin.accessToken });
    expect(pending.body.items.map((r) => r.id)).toContain(request.body.id);

    const approved = await call<{ status: string; decidedBy: string }>(`${node.api}/admin/organizer-requests/${request.body.id}/approve`, {
      token: admin.accessToken,
      body: { note: 'verified the company' },
    });
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: 'approved', decidedBy: admin.user.id });
    const twice = await call(`${node.api}/admin/organizer-requests/${request.body.id}/reject`, { token: admin.accessToken, body: { note: 'no' } });
    expect(twice.status).toBe(409);

    const refreshed = await call<Tokens>(`${node.api}/auth/refresh`, { body: { refreshToken: customer.refreshToken } });
    expect(refreshed.body.user.role).toBe('organizer');

    const audit = await db.sql<{ action: string; actor_id: string; subject_id: string; reason: string | null; at: Date }[]>`
      select action, actor_id, subject_id, reason, at from audit_log where subject_id = ${customer.user.id} order by id`;
    expect(audit.map((r) => r.action)).toEqual(['identity.password.set', 'identity.organizer.requested', 'identity.organizer.approved']);
    expect(audit[2]).toMatchObject({ actor_id: admin.user.id, subject_id: customer.user.id, reason: 'verified the company' });
    expect(audit[2]!.at).toBeInstanceOf(Date);
    // The log cannot be rewritten.
    await expect(db.sql`update audit_log set reason = 'edited'`).rejects.toThrow(/append-only/);
  });

  it('a rejection leaves the role alone', async () => {
    const customer = await signUp(node.api, db.sql, 'rejected@example.com');
    const request = await call<{ id: string }>(`${node.api}/me/organizer-request`, { token: customer.accessToken, body: { organizationName: 'Nope' } });
    const rejected = await call(`${node.api}/admin/organizer-requests/${request.body.id}/reject`, { token: admin.accessToken, body: { note: 'unknown company' } });
    expect(rejected.status).toBe(200);
    const [role] = await db.sql<{ role: string }[]>`select role from users where id = ${customer.user.id}`;
    expect(role?.role).toBe('customer');
  });

  it('npm run admin:create bootstraps an admin and audits it', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/cli/admin-create.ts', 'Boss@Example.com'], {
      cwd: ROOT,
      env: { PATH: process.env['PATH'] ?? '', DATABASE_URL: db.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, output).toBe(0);
    const [user] = await db.sql<{ id: string; role: string }[]>`select id, role from users where email = 'boss@example.com'`;
    expect(user?.role).toBe('admin');
    const [audit] = await db.sql<{ actor_kind: string }[]>`
      select actor_kind from audit_log where action = 'identity.admin.granted' and subject_id = ${user!.id}`;
    expect(audit?.actor_kind).toBe('system');

    const bad = spawn(process.execPath, ['--import', 'tsx', 'server/cli/admin-create.ts', 'not-an-email'], {
      cwd: ROOT,
      env: { PATH: process.env['PATH'] ?? '', DATABASE_URL: db.url },
      stdio: 'ignore',
    });
    expect(await new Promise((resolve) => bad.on('close', resolve))).toBe(2);
  });

  it('devices: created by the event organizer, shown once, stored hashed, revoked at once', async () => {
    const owner = await organizerTokens(node.api, db.sql, 'owner@example.com', admin);
    const rival = await organizerTokens(node.api, db.sql, 'rival@example.com', admin);
    const eventId = await createEvent(db, owner.user.id, 'device-test-event');

    const created = await call<{ id: string; token: string }>(`${node.api}/organizer/events/${eventId}/devices`, {
      token: owner.accessToken,
      body: { name: 'Gate A' },
    });
    expect(created.status).toBe(201);
    expect(created.body.token).toMatch(/^bxd_/);
    const [stored] = await db.sql<{ token_hash: Buffer }[]>`select token_hash from scanner_devices where id = ${created.body.id}`;
    expect(stored!.token_hash.toString('utf8')).not.toContain(created.body.token.slice(4));

    const list = await call<{ items: Record<string, unknown>[] }>(`${node.api}/organizer/events/${eventId}/devices`, { token: owner.accessToken });
    expect(list.body.items).toHaveLength(1);
    expect(JSON.stringify(list.body)).not.toContain(created.body.token);

    const whoami = await call(`${node.api}/device/me`, { token: created.body.token });
    expect(whoami.status).toBe(200);
    expect(whoami.body).toEqual({ deviceId: created.body.id, eventId });
    // A device token is not a user: user routes refuse it; a user token is not a device.
    expect((await call(`${node.api}/me`, { token: created.body.token })).status).toBe(403);
    expect((await call(`${node.api}/device/me`, { token: owner.accessToken })).status).toBe(403);

    // Another organizer sees nothing of this event (404, not 403: ids are not confirmed).
    for (const [method, path, body] of [
      ['GET', `/organizer/events/${eventId}/devices`, undefined],
      ['POST', `/organizer/events/${eventId}/devices`, { name: 'Mine now' }],
      ['DELETE', `/organizer/events/${eventId}/devices/${created.body.id}`, undefined],
    ] as const) {
      const res = await call(`${node.api}${path}`, { method, token: rival.accessToken, ...(body ? { body } : {}) });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    // An admin may act on any event.
    expect((await call(`${node.api}/organizer/events/${eventId}/devices`, { token: admin.accessToken })).status).toBe(200);

    const revoked = await call(`${node.api}/organizer/events/${eventId}/devices/${created.body.id}`, { method: 'DELETE', token: owner.accessToken });
    expect(revoked.status).toBe(204);
    const after = await call(`${node.api}/device/me`, { token: created.body.token });
    expect(after.status).toBe(401);
    const audit = await db.sql<{ action: string; actor_id: string }[]>`
      select action, actor_id from audit_log where subject_id = ${created.body.id} order by id`;
    expect(audit).toEqual([
      { action: 'identity.device.created', actor_id: owner.user.id },
      { action: 'identity.device.revoked', actor_id: owner.user.id },
    ]);
  });

  it('a customer cannot reach organizer routes', async () => {
    const customer = await signIn(node.api, 'rejected@example.com');
    const eventId = await createEvent(db, admin.user.id, 'admins-event');
    const res = await call(`${node.api}/organizer/events/${eventId}/devices`, { token: customer.accessToken });
    expect(res.status).toBe(403);
  });
});
