// Rate limits shared by every node through Redis (@fastify/rate-limit): a global per-client-IP
// limit on everything but health probes, plus named limiters that routes apply to other keys
// (an account, a user). 429 answers carry Retry-After and the RateLimit-* headers.
import rateLimit from '@fastify/rate-limit';
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { AppError } from '../errors.ts';
import type { Redis } from '../store/index.ts';
import './policy.ts'; // the request.principal declaration
import type { App } from './types.ts';

export interface RateLimitSettings {
  redis: Redis;
  keyPrefix: string;
  globalPerMinute: number;
  purchasesPerUserPerMinute: number;
  webhooksPerMinute: number;
}

/** Limits a route opts into with `preHandler: app.routeLimits.<name>`. */
export interface RouteLimits {
  /** Per signed-in user (per IP for anyone else): creating purchases. */
  purchases: preHandlerAsyncHookHandler;
  /** Per client IP: payment provider webhooks. */
  webhooks: preHandlerAsyncHookHandler;
}

declare module 'fastify' {
  interface FastifyInstance {
    routeLimits: RouteLimits;
  }
}

function limited(retryAfterSeconds: number): AppError {
  return new AppError('rate_limited', `too many requests; retry in ${retryAfterSeconds} s`, { retryAfterSeconds });
}

export async function registerRateLimits(app: App, settings: RateLimitSettings): Promise<void> {
  await app.register(rateLimit, {
    global: true,
    max: settings.globalPerMinute,
    timeWindow: 60_000,
    redis: settings.redis,
    nameSpace: `${settings.keyPrefix}:rl:`,
    // The global limit fails open if Redis is away (availability); the strict limiters below do not.
    skipOnError: true,
    enableDraftSpec: true,
    keyGenerator: (request) => `ip:${request.ip}`,
    allowList: (request) => request.url.startsWith('/health/'),
    errorResponseBuilder: (_request, context) => limited(Math.max(1, Math.ceil(context.ttl / 1000))),
  });
  const purchases = createLimiter(app, 'purchases', settings.purchasesPerUserPerMinute, 60_000);
  const webhooks = createLimiter(app, 'webhooks', settings.webhooksPerMinute, 60_000);
  app.decorate('routeLimits', {
    purchases: async (request: FastifyRequest, reply: FastifyReply) => {
      const p = request.principal;
      await purchases.enforce(request, reply, p.kind === 'user' ? `user:${p.userId}` : `ip:${request.ip}`);
    },
    webhooks: async (request: FastifyRequest, reply: FastifyReply) => {
      await webhooks.enforce(request, reply, `ip:${request.ip}`);
    },
  } satisfies RouteLimits);
}

export interface Limiter {
  /** Counts one hit for `key` (unless `increment` is false) and throws rate_limited past the limit. */
  enforce(request: FastifyRequest, reply: FastifyReply, key: string, options?: { increment?: boolean }): Promise<void>;
  /** Counts a hit without refusing (e.g. a failed login, checked by the next attempt). */
  hit(request: FastifyRequest, key: string): Promise<void>;
}

/** A named limiter on keys of the route's choosing (an email, a user id), fail-closed. */
export function createLimiter(app: App, name: string, max: number, windowMs: number): Limiter {
  const keyed = new WeakMap<FastifyRequest, string>();
  const check = app.createRateLimit({
    max,
    timeWindow: windowMs,
    skipOnError: false,
    keyGenerator: (request) => `${name}:${keyed.get(request) ?? request.ip}`,
  });
  return {
    async enforce(request, reply, key, options) {
      keyed.set(request, key);
      const state = await check(request, { increment: options?.increment ?? true });
      if (state.isAllowed) return;
      const exceeded = options?.increment === false ? state.remaining <= 0 : state.isExceeded;
      reply.header('ratelimit-limit', state.max);
      reply.header('ratelimit-remaining', state.remaining);
      reply.header('ratelimit-reset', state.ttlInSeconds);
      if (exceeded) {
        const after = Math.max(1, state.ttlInSeconds);
        reply.header('retry-after', after);
        throw limited(after);
      }
    },
    async hit(request, key) {
      keyed.set(request, key);
      await check(request);
    },
  };
}
