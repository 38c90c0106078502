// Authorization, declared where each route is declared: every route carries `config.policy`, and
// a route without one fails at startup (so a new route cannot ship unguarded). The authenticator
// comes from identity; this file only decides who may pass.
import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';
import type { Principal, UserPrincipal, DevicePrincipal } from '../identity/principal.ts';
import type { App } from './types.ts';

/**
 * - public:    anyone (a presented token must still be valid)
 * - user:      any signed-in account
 * - organizer: organizers and admins (object checks narrow organizers to their own events)
 * - admin:     admins only
 * - device:    scanner device tokens only
 */
export const POLICIES = ['public', 'user', 'organizer', 'admin', 'device'] as const;
export type Policy = (typeof POLICIES)[number];

declare module 'fastify' {
  interface FastifyContextConfig {
    policy?: Policy;
  }
  interface FastifyRequest {
    principal: Principal;
  }
}

export type Authenticate = (authorization: string | undefined) => Promise<Principal>;

export interface RouteEntry {
  method: string;
  url: string;
  policy: Policy;
}

/** Routes outside the API that need no policy: health probes, the development docs, the web client's files. */
const UNGUARDED = [/^\/health\//, /^\/metrics$/, /^\/docs(\/|$)/, /^\/$/, /^\/index\.html$/, /^\/assets\/[\w.-]+$/];

export function allows(policy: Policy, principal: Principal): boolean {
  switch (policy) {
    case 'public':
      return true;
    case 'user':
      return principal.kind === 'user';
    case 'organizer':
      return principal.kind === 'user' && (principal.role === 'organizer' || principal.role === 'admin');
    case 'admin':
      return principal.kind === 'user' && principal.role === 'admin';
    case 'device':
      return principal.kind === 'device';
  }
}

/** Registers the guard on `app`; returns the live route table (for the authorization matrix test). */
export function registerPolicies(app: App, authenticate: Authenticate): RouteEntry[] {
  const table: RouteEntry[] = [];
  app.decorateRequest('principal', null as never);
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (UNGUARDED.some((pattern) => pattern.test(route.url))) return;
    const policy = route.config?.policy;
    if (!policy || !POLICIES.includes(policy)) {
      throw new Error(`route ${methods.join(',')} ${route.url} has no authorization policy (config.policy)`);
    }
    for (const method of methods) if (method !== 'HEAD') table.push({ method, url: route.url, policy });
  });
  app.addHook('onRequest', async (request) => {
    const policy = request.routeOptions.config.policy;
    if (!policy) return; // unguarded routes and 404s
    request.principal = await authenticate(request.headers.authorization);
    if (allows(policy, request.principal)) return;
    if (request.principal.kind === 'anonymous') throw new AppError('unauthorized', 'sign in to do this');
    throw new AppError('forbidden', 'you may not do this');
  });
  return table;
}

export function requireUser(request: FastifyRequest): UserPrincipal {
  const p = request.principal;
  if (p.kind !== 'user') throw new AppError('unauthorized', 'sign in to do this');
  return p;
}

export function requireDevice(request: FastifyRequest): DevicePrincipal {
  const p = request.principal;
  if (p.kind !== 'device') throw new AppError('unauthorized', 'a device token is required');
  return p;
}

/**
 * Object-level check for organizer routes: admins pass, organizers only for what they own. Others'
 * objects answer 404 (not 403), so ids of other organizers' events are not confirmed.
 */
export function assertOwner(principal: Principal, ownerId: string, what = 'resource'): void {
  if (principal.kind === 'user' && (principal.role === 'admin' || principal.userId === ownerId)) return;
  throw new AppError('not_found', `${what} not found`);
}
