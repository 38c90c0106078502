// buildApp(deps): the whole HTTP application, ready to inject() or listen(). It never listens and
// never reads the environment; main.ts and the tests hand it everything it uses.
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Config } from './config.ts';
import { AppError } from './errors.ts';
import { clientErrorHandler, registerErrorHandling, type ReportServerError } from './http/error-handler.ts';
import { registerDocs } from './http/docs.ts';
import { REQUEST_ID_HEADER, requestIdFrom } from './http/request-id.ts';
import { RequestLog } from './http/request-log.ts';
import { registerPolicies, type Authenticate, type RouteEntry } from './http/policy.ts';
import { registerRateLimits, type RateLimitSettings } from './http/rate-limits.ts';
import { registerSecurity } from './http/security.ts';
import type { App } from './http/types.ts';
import { registerWebClient } from './http/web-client.ts';
import { METRICS_PATH, registerHealthRoutes, registerMetricsRoute, type Logger, type Metrics, type ReadinessCheck } from './observability/index.ts';

export const PACKAGE_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export interface AppDeps {
  config: Config;
  log: Logger;
  readiness: readonly ReadinessCheck[];
  isShuttingDown: () => boolean;
  /** From when new requests are refused (after the drain delay); default: as soon as shutting down. */
  isClosing?: () => boolean;
  /** Turns the Authorization header into a principal (identity's); default: anonymous only. */
  authenticate?: Authenticate;
  /** The built web client to serve at `/` (absent: no web client, e.g. in API-only tests). */
  webClientDir?: string;
  /** Shared Redis-backed rate limits; without them (some unit tests) no limits apply. */
  rateLimits?: RateLimitSettings;
  /** Extra route plugins mounted under /api/v1 (capabilities; tests add their own). */
  apiPlugins?: readonly ((api: App) => Promise<void> | void)[];
  /** The node's metrics: request latency is recorded, and /metrics served here unless it has a port of its own. */
  metrics?: { metrics: Metrics; servedHere: boolean; token: string | null };
  /** Every 5xx fault goes here too (error tracking), once per request. */
  reportServerError?: ReportServerError;
}

const anonymousOnly: Authenticate = (authorization) =>
  authorization
    ? Promise.reject(new AppError('unauthorized', 'no credentials are accepted here'))
    : Promise.resolve({ kind: 'anonymous' });

export interface BuiltApp {
  app: App;
  /** Every guarded route with its policy, as registered (the authorization matrix reads it). */
  routes: RouteEntry[];
}

export async function buildApp(deps: AppDeps): Promise<App> {
  return (await buildAppWithRoutes(deps)).app;
}

export async function buildAppWithRoutes(deps: AppDeps): Promise<BuiltApp> {
  const { config } = deps;
  const loggerInstance: FastifyBaseLogger = deps.log;
  const app: App = Fastify({
    loggerInstance,
    genReqId: requestIdFrom,
    logController: new RequestLog(),
    bodyLimit: config.http.bodyLimitBytes,
    requestTimeout: config.http.requestTimeoutMs,
    connectionTimeout: config.http.requestTimeoutMs,
    keepAliveTimeout: 5_000,
    // We answer requests that arrive while closing ourselves, with the stable error body.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    trustProxy: config.http.trustedProxies.length > 0 ? [...config.http.trustedProxies] : false,
    clientErrorHandler,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    ajv: { customOptions: { removeAdditional: false } },
  }).withTypeProvider<ZodTypeProvider>();
  // The API speaks JSON only; anything else is a clear 415 (webhooks add their own raw parser).
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  registerErrorHandling(app, deps.reportServerError);
  app.addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    if (deps.isShuttingDown()) {
      // Draining: still served (readiness alone says 503), each on a connection that then closes.
      reply.header('connection', 'close');
      const refusing = (deps.isClosing ?? deps.isShuttingDown)();
      if (refusing && request.url !== '/health/live') throw new AppError('service_unavailable', 'the server is shutting down');
    }
  });
  app.addHook('onSend', async (_request, reply) => {
    // Requests already in flight when shutdown began finish, then their connection closes.
    if (deps.isShuttingDown()) reply.header('connection', 'close');
  });
  if (deps.metrics) {
    const { httpDuration } = deps.metrics.metrics;
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      if (route === METRICS_PATH) return;
      httpDuration.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
    });
  }

  const docsCsp = await registerDocs(app, {
    version: PACKAGE_VERSION,
    publicUrl: config.http.publicUrl,
    ui: config.http.apiDocs,
  });
  await registerSecurity(app, { config, docsCsp });
  if (deps.rateLimits) await registerRateLimits(app, deps.rateLimits);
  const routes = registerPolicies(app, deps.authenticate ?? anonymousOnly);
  registerHealthRoutes(app, { checks: deps.readiness, isShuttingDown: deps.isShuttingDown });
  if (deps.metrics?.servedHere) registerMetricsRoute(app, { metrics: deps.metrics.metrics, token: deps.metrics.token, log: deps.log });

  await app.register(
    async (api) => {
      api.get(
        '/',
        {
          config: { policy: 'public' },
          schema: {
            summary: 'Service information',
            tags: ['meta'],
            response: {
              200: z.object({ name: z.string(), version: z.string(), apiVersion: z.literal('v1'), docs: z.string().nullable() }),
            },
          },
        },
        () => ({
          name: 'boxoffice',
          version: PACKAGE_VERSION,
          apiVersion: 'v1' as const,
          docs: config.http.apiDocs ? `${config.http.publicUrl}/docs` : null,
        }),
      );
      for (const plugin of deps.apiPlugins ?? []) await api.register(async (scope) => plugin(scope));
    },
    { prefix: '/api/v1' },
  );
  if (deps.webClientDir) await registerWebClient(app, deps.webClientDir);
  return { app, routes };
}
