// Identity's HTTP face: /auth (register, codes, login, refresh, logout), /me, organizer requests,
// admin decisions, and scanner devices for an organizer's event. Each route declares its policy.
import { z } from 'zod';
import { AppError } from '../errors.ts';
import { assertOwner, requireDevice, requireUser } from '../http/policy.ts';
import { createLimiter } from '../http/rate-limits.ts';
import type { App } from '../http/types.ts';
import { readOutbox } from '../mail/index.ts';
import type { Sql } from '../store/index.ts';
import { roleSchema } from './access-tokens.ts';
import type { Accounts } from './accounts.ts';
import type { Devices } from './devices.ts';
import type { Organizers } from './organizers.ts';
import { passwordSchema } from './passwords.ts';

export interface IdentityRouteDeps {
  sql: Sql;
  accounts: Accounts;
  organizers: Organizers;
  devices: Devices;
  limits: { authPerIpPer15Min: number; authPerAccountPer15Min: number };
  /** Development only: expose the mail outbox so the demo can show the codes it "sent". */
  exposeOutbox: boolean;
}

const FIFTEEN_MINUTES = 15 * 60 * 1000;

export const emailSchema = z.string().trim().toLowerCase().max(254).pipe(z.email({ error: 'not an email address' }));
const codeSchema = z.string().regex(/^\d{6}$/, '6 digits');
const uuidParam = z.guid();

const userSchema = z.object({ id: z.string(), email: z.string(), role: roleSchema });
const tokenPairSchema = z.object({
  tokenType: z.literal('Bearer'),
  accessToken: z.string(),
  accessTokenExpiresAt: z.string(),
  refreshToken: z.string(),
  refreshTokenExpiresAt: z.string(),
  user: userSchema,
});
const codeSentSchema = z.object({ status: z.literal('code_sent'), expiresInSeconds: z.number() });
const organizerRequestSchema = z.object({
  id: z.string(),
  userId: z.string(),
  email: z.string(),
  organizationName: z.string(),
  message: z.string(),
  status: z.enum(['pending', 'approved', 'rejected']),
  decidedBy: z.string().nullable(),
  decidedAt: z.date().nullable(),
  decisionNote: z.string().nullable(),
  createdAt: z.date(),
});
const deviceSchema = z.object({
  id: z.string(),
  eventId: z.string(),
  name: z.string(),
  createdAt: z.date(),
  lastSeenAt: z.date().nullable(),
  revokedAt: z.date().nullable(),
});

export function identityRoutes(deps: IdentityRouteDeps) {
  return (api: App) => {
    const perIp = createLimiter(api, 'auth-ip', deps.limits.authPerIpPer15Min, FIFTEEN_MINUTES);
    const perAccount = createLimiter(api, 'auth-account', deps.limits.authPerAccountPer15Min, FIFTEEN_MINUTES);
    const meta = (request: { headers: Record<string, unknown>; ip: string }) => ({
      userAgent: typeof request.headers['user-agent'] === 'string' ? request.headers['user-agent'] : undefined,
      ip: request.ip,
    });
    const tags = ['identity'];

    api.post(
      '/auth/register',
      {
        config: { policy: 'public' },
        schema: {
          tags,
          summary: 'Register: choose a password; it takes effect when the emailed code is verified',
          body: z.object({ email: emailSchema, password: passwordSchema }),
          response: { 202: codeSentSchema },
        },
      },
      async (request, reply) => {
        await perIp.enforce(request, reply, request.ip);
        await perAccount.enforce(request, reply, `send:${request.body.email}`);
        await deps.accounts.register(request.body.email, request.body.password);
        return reply.code(202).send({ status: 'code_sent' as const, expiresInSeconds: 300 });
      },
    );

    api.post(
      '/auth/code',
      {
        config: { policy: 'public' },
        schema: { tags, summary: 'Email a one-time sign-in code', body: z.object({ email: emailSchema }), response: { 202: codeSentSchema } },
      },
      async (request, reply) => {
        await perIp.enforce(request, reply, request.ip);
        await perAccount.enforce(request, reply, `send:${request.body.email}`);
        await deps.accounts.requestCode(request.body.email);
        return reply.code(202).send({ status: 'code_sent' as const, expiresInSeconds: 300 });
      },
    );

    api.post(
      '/auth/code/verify',
      {
        config: { policy: 'public' },
        schema: {
          tags,
          summary: 'Sign in with an emailed code (creates the account on first use)',
          body: z.object({ email: emailSchema, code: codeSchema }),
          response: { 200: tokenPairSchema },
        },
      },
      async (request, reply) => {
        await perIp.enforce(request, reply, request.ip);
        await perAccount.enforce(request, reply, `verify:${request.body.email}`, { increment: false });
        try {
          return await deps.accounts.verifyCode(request.body.email, request.body.code, meta(request));
        } catch (err) {
          await perAccount.hit(request, `verify:${request.body.email}`);
          throw err;
        }
      },
    );

    api.post(
      '/auth/login',
      {
        config: { policy: 'public' },
        schema: {
          tags,
          summary: 'Sign in with email and password',
          body: z.object({ email: emailSchema, password: z.string().min(1).max(128) }),
          response: { 200: tokenPairSchema },
        },
      },
      async (request, reply) => {
        await perIp.enforce(request, reply, request.ip);
        // Failed attempts count against the account, from any IP; a success does not.
        await perAccount.enforce(request, reply, `login:${request.body.email}`, { increment: false });
        try {
          return await deps.accounts.login(request.body.email, request.body.password, meta(request));
        } catch (err) {
          await perAccount.hit(request, `login:${request.body.email}`);
          throw err;
        }
      },
    );

    api.post(
      '/auth/refresh',
      {
        config: { policy: 'public' },
        schema: {
          tags,
          summary: 'Trade a refresh token for new tokens (the old refresh token is retired)',
          body: z.object({ refreshToken: z.string().min(1).max(200) }),
          response: { 200: tokenPairSchema },
        },
      },
      async (request, reply) => {
        await perIp.enforce(request, reply, request.ip);
        return deps.accounts.refresh(request.body.refreshToken);
      },
    );

    api.post(
      '/auth/logout',
      { config: { policy: 'user' }, schema: { tags, summary: 'End this session everywhere', response: { 204: z.null() } } },
      async (request, reply) => {
        await deps.accounts.logout(requireUser(request).sessionId);
        return reply.code(204).send(null);
      },
    );

    api.post(
      '/auth/logout-all',
      {
        config: { policy: 'user' },
        schema: { tags, summary: 'End every session of this account', response: { 200: z.object({ sessionsEnded: z.number() }) } },
      },
      async (request) => ({ sessionsEnded: await deps.accounts.logoutEverywhere(requireUser(request).userId) }),
    );

    api.get(
      '/me',
      {
        config: { policy: 'user' },
        schema: {
          tags,
          summary: 'The signed-in account',
          response: {
            200: userSchema.extend({ displayName: z.string().nullable(), emailVerifiedAt: z.date().nullable(), createdAt: z.date() }),
          },
        },
      },
      async (request) => deps.accounts.me(requireUser(request).userId),
    );

    api.post(
      '/me/organizer-request',
      {
        config: { policy: 'user' },
        schema: {
          tags,
          summary: 'Ask to become an organizer (an admin decides)',
          body: z.object({ organizationName: z.string().trim().min(1).max(200), message: z.string().max(2000).default('') }),
          response: { 201: organizerRequestSchema },
        },
      },
      async (request, reply) => {
        const user = requireUser(request);
        const created = await deps.organizers.request(user.userId, request.body.organizationName, request.body.message, request.id);
        return reply.code(201).send(created);
      },
    );

    api.get(
      '/admin/organizer-requests',
      {
        config: { policy: 'admin' },
        schema: {
          tags: ['admin'],
          summary: 'Organizer requests, newest first',
          querystring: z.object({
            status: z.enum(['pending', 'approved', 'rejected']).optional(),
            limit: z.coerce.number().int().min(1).max(200).default(50),
          }),
          response: { 200: z.object({ items: z.array(organizerRequestSchema) }) },
        },
      },
      async (request) => ({ items: await deps.organizers.list(request.query.status, request.query.limit) }),
    );

    for (const [path, decision] of [
      ['approve', 'approved'],
      ['reject', 'rejected'],
    ] as const) {
      api.post(
        `/admin/organizer-requests/:requestId/${path}`,
        {
          config: { policy: 'admin' },
          schema: {
            tags: ['admin'],
            summary: `${path === 'approve' ? 'Approve' : 'Reject'} an organizer request`,
            params: z.object({ requestId: uuidParam }),
            body: z.object({ note: z.string().trim().max(2000).optional() }).default({}),
            response: { 200: organizerRequestSchema },
          },
        },
        async (request) =>
          deps.organizers.decide(request.params.requestId, requireUser(request).userId, decision, request.body.note ?? null, request.id),
      );
    }

    async function ownedEvent(eventId: string, principal: Parameters<typeof assertOwner>[0]): Promise<void> {
      const [event] = await deps.sql<{ organizer_id: string }[]>`select organizer_id from events where id = ${eventId}`;
      if (!event) throw new AppError('not_found', 'event not found');
      assertOwner(principal, event.organizer_id, 'event');
    }

    const eventParams = z.object({ eventId: uuidParam });
    api.post(
      '/organizer/events/:eventId/devices',
      {
        config: { policy: 'organizer' },
        schema: {
          tags: ['devices'],
          summary: 'Create a scanner device token for an event (the token is shown once)',
          params: eventParams,
          body: z.object({ name: z.string().trim().min(1).max(100) }),
          response: { 201: deviceSchema.extend({ token: z.string() }) },
        },
      },
      async (request, reply) => {
        await ownedEvent(request.params.eventId, request.principal);
        const { device, token } = await deps.devices.create(request.params.eventId, request.body.name, requireUser(request).userId, request.id);
        return reply.code(201).send({ ...device, token });
      },
    );

    api.get(
      '/organizer/events/:eventId/devices',
      {
        config: { policy: 'organizer' },
        schema: { tags: ['devices'], summary: "An event's scanner devices", params: eventParams, response: { 200: z.object({ items: z.array(deviceSchema) }) } },
      },
      async (request) => {
        await ownedEvent(request.params.eventId, request.principal);
        return { items: await deps.devices.list(request.params.eventId) };
      },
    );

    api.delete(
      '/organizer/events/:eventId/devices/:deviceId',
      {
        config: { policy: 'organizer' },
        schema: {
          tags: ['devices'],
          summary: 'Revoke a scanner device (refused at once on every node)',
          params: eventParams.extend({ deviceId: uuidParam }),
          response: { 204: z.null() },
        },
      },
      async (request, reply) => {
        await ownedEvent(request.params.eventId, request.principal);
        const revoked = await deps.devices.revoke(request.params.eventId, request.params.deviceId, requireUser(request).userId, request.id);
        if (!revoked) throw new AppError('not_found', 'device not found');
        return reply.code(204).send(null);
      },
    );

    api.get(
      '/device/me',
      {
        config: { policy: 'device' },
        schema: { tags: ['devices'], summary: 'The calling scanner device', response: { 200: z.object({ deviceId: z.string(), eventId: z.string() }) } },
      },
      (request) => {
        const device = requireDevice(request);
        return { deviceId: device.deviceId, eventId: device.eventId };
      },
    );

    if (deps.exposeOutbox) {
      api.get(
        '/dev/outbox',
        {
          config: { policy: 'public' },
          schema: {
            tags: ['development'],
            summary: 'Development only: mail the outbox mailer delivered to an address',
            querystring: z.object({ email: emailSchema }),
            response: { 200: z.object({ items: z.array(z.object({ recipient: z.string(), subject: z.string(), body: z.string(), createdAt: z.date() })) }) },
          },
        },
        async (request) => ({ items: await readOutbox(deps.sql, request.query.email) }),
      );
    }
  };
}
