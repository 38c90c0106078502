// Signing people up the way a user does (register or code -> mail -> verify), for tests.
import { expect } from 'vitest';
import { makeAdmin } from '../../server/identity/index.ts';
import { readOutbox } from '../../server/mail/index.ts';
import type { Sql } from '../../server/store/index.ts';
import { call } from './server.ts';

export interface Tokens {
  accessToken: string;
  refreshToken: string;
  user: { id: string; email: string; role: string };
}

/** The newest code mailed to `email`, waiting for the mail worker to deliver it. */
export async function mailedCode(sql: Sql, address: string, after = new Date(0)): Promise<string> {
  const email = address.trim().toLowerCase();
  // A plain loop (not expect.poll): this also runs in beforeAll hooks.
  for (let attempt = 0; attempt < 200; attempt++) {
    const [mail] = await readOutbox(sql, email, 1);
    const code = mail && mail.createdAt >= after ? /code is (\d{6})/.exec(mail.body)?.[1] : undefined;
    if (code) return code;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no code was mailed to ${email} within 10 s`);
}

export async function signUp(api: string, sql: Sql, email: string, password = 'a long enough passphrase'): Promise<Tokens> {
  const started = new Date(Date.now() - 1000);
  const registered = await call(`${api}/auth/register`, { body: { email, password } });
  expect(registered.status, JSON.stringify(registered.body)).toBe(202);
  const code = await mailedCode(sql, email, started);
  const verified = await call<Tokens>(`${api}/auth/code/verify`, { body: { email, code } });
  expect(verified.status, JSON.stringify(verified.body)).toBe(200);
  return verified.body;
}

export async function signIn(api: string, email: string, password = 'a long enough passphrase'): Promise<Tokens> {
  const res = await call<Tokens>(`${api}/auth/login`, { body: { email, password } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

/** An admin, bootstrapped as the CLI does, then signed in with a password set through registration. */
export async function adminTokens(api: string, sql: Sql, email: string): Promise<Tokens> {
  await signUp(api, sql, email);
  await makeAdmin(sql, email);
  return signIn(api, email);
}

/** A customer who asked to organize and was approved by `admin`; signed in again to carry the role. */
export async function organizerTokens(api: string, sql: Sql, email: string, admin: Tokens): Promise<Tokens> {
  const customer = await signUp(api, sql, email);
  const request = await call<{ id: string }>(`${api}/me/organizer-request`, {
    token: customer.accessToken,
    body: { organizationName: `${email} events` },
  });
  expect(request.status, JSON.stringify(request.body)).toBe(201);
  const approved = await call(`${api}/admin/organizer-requests/${request.body.id}/approve`, { token: admin.accessToken, body: {} });
  expect(approved.status, JSON.stringify(approved.body)).toBe(200);
  return signIn(api, email);
}
