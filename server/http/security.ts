// Security headers (helmet) and CORS from config. The docs UI, when on, is the only page that
// needs script and style sources beyond 'self'.
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import type { App } from './types.ts';
import type { Config } from '../config.ts';

export interface SecurityOptions {
  config: Config;
  /** Extra CSP sources the docs UI asks for (its inline script and style hashes). */
  docsCsp?: { script: string[]; style: string[] } | undefined;
}

export async function registerSecurity(app: App, { config, docsCsp }: SecurityOptions): Promise<void> {
  const stripe = config.payments.provider === 'stripe';
  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        baseUri: ["'self'"],
        objectSrc: ["'none'"],
        frameAncestors: ["'none'"],
        formAction: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        // Stripe Elements (when Stripe is the provider) loads Stripe.js, frames its card fields and talks to its API.
        scriptSrc: ["'self'", ...(docsCsp?.script ?? []), ...(stripe ? ['https://js.stripe.com'] : [])],
        styleSrc: ["'self'", ...(docsCsp?.style ?? [])],
        connectSrc: ["'self'", ...(stripe ? ['https://api.stripe.com'] : [])],
        frameSrc: stripe ? ['https://js.stripe.com', 'https://hooks.stripe.com'] : ["'none'"],
      },
    },
    hsts: config.isProduction ? { maxAge: 365 * 24 * 60 * 60, includeSubDomains: true } : false,
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'strict-origin-when-cross-origin' },
    crossOriginResourcePolicy: { policy: 'same-site' },
  });
  const allowed = new Set(config.http.corsOrigins);
  await app.register(cors, {
    // Requests without an Origin (curl, server-to-server) are not CORS requests; others must be listed.
    origin: (origin, cb) => cb(null, origin === undefined || allowed.has('*') || allowed.has(origin)),
    credentials: !allowed.has('*'),
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['authorization', 'content-type', 'idempotency-key', 'x-request-id'],
    exposedHeaders: ['x-request-id', 'retry-after', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'],
    maxAge: 600,
  });
}
