// /metrics in Prometheus text: on the API's port, or on a listener of its own (METRICS_PORT, for a
// private network), and behind a bearer token when METRICS_TOKEN is set. Production refuses to
// start with neither (config.ts), so the sale's figures are never public.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { App } from '../http/types.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';

export const METRICS_PATH = '/metrics';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Whether the Authorization header carries the token (compared in constant time). */
export function bearerMatches(authorization: string | undefined, token: string | null): boolean {
  if (token === null) return true;
  const given = authorization?.startsWith('Bearer ') ? authorization.slice(7) : '';
  return timingSafeEqual(digest(given), digest(token));
}

interface Answer {
  status: number;
  contentType: string;
  body: string;
  headers?: Record<string, string>;
}

const errorAnswer = (status: number, code: string, message: string, headers?: Record<string, string>): Answer => ({
  status,
  contentType: 'application/json; charset=utf-8',
  body: JSON.stringify({ error: { code, message } }),
  ...(headers ? { headers } : {}),
});

async function answer(metrics: Metrics, token: string | null, authorization: string | undefined, log: Logger): Promise<Answer> {
  if (!bearerMatches(authorization, token)) {
    return errorAnswer(401, 'unauthorized', 'a valid metrics token is required', { 'www-authenticate': 'Bearer realm="metrics"' });
  }
  try {
    return { status: 200, contentType: metrics.registry.contentType, body: await metrics.registry.metrics() };
  } catch (err) {
    // A gauge whose source is down (Postgres, Redis): say so, and let the scrape count as failed.
    log.warn({ err }, 'metrics collection failed');
    return errorAnswer(503, 'service_unavailable', 'metrics are unavailable right now');
  }
}

export interface MetricsEndpointSettings {
  metrics: Metrics;
  token: string | null;
  log: Logger;
}

/** GET /metrics on the API's own server. */
export function registerMetricsRoute(app: App, { metrics, token, log }: MetricsEndpointSettings): void {
  app.get(METRICS_PATH, { schema: { hide: true } }, async (request, reply) => {
    const result = await answer(metrics, token, request.headers.authorization, log);
    return reply
      .code(result.status)
      .headers({ 'cache-control': 'no-store', ...result.headers })
      .type(result.contentType)
      .send(result.body);
  });
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/** A listener of its own that answers GET /metrics and nothing else. */
export async function startMetricsServer(settings: MetricsEndpointSettings & { host: string; port: number }): Promise<MetricsServer> {
  const send = (res: ServerResponse, result: Answer) => {
    res.writeHead(result.status, { 'content-type': result.contentType, 'cache-control': 'no-store', ...result.headers });
    res.end(result.body);
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== METRICS_PATH) return send(res, errorAnswer(404, 'not_found', `no route for ${req.method} ${path}`));
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, errorAnswer(405, 'method_not_allowed', 'use GET'));
    void answer(settings.metrics, settings.token, req.headers.authorization, settings.log).then((result) => send(res, result));
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}${METRICS_PATH}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
