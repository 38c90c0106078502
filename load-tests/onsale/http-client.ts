// A small JSON-over-HTTP client for the load generator: keep-alive connections per origin, a
// timeout per request, and failures as values (a status, or an error kind), never as throws.
import { Agent, request } from 'node:http';

export interface Answer {
  /** HTTP status, or 0 when no answer came (see `error`). */
  status: number;
  body: Record<string, unknown> | null;
  /** `timeout`, `network`: why no answer came. */
  error: 'timeout' | 'network' | null;
}

export interface HttpClient {
  call(method: 'GET' | 'POST', url: string, options?: { token?: string; body?: string; headers?: Record<string, string> }): Promise<Answer>;
  close(): void;
}

export function createHttpClient(settings: { timeoutMs: number; maxSockets: number }): HttpClient {
  const agent = new Agent({ keepAlive: true, maxSockets: settings.maxSockets, maxFreeSockets: settings.maxSockets });
  return {
    call(method, url, options = {}) {
      return new Promise<Answer>((resolve) => {
        const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
        if (options.token) headers['authorization'] = `Bearer ${options.token}`;
        if (options.body !== undefined) {
          headers['content-type'] = 'application/json';
          headers['content-length'] = String(Buffer.byteLength(options.body));
        }
        let settled = false;
        const finish = (answer: Answer) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(answer);
        };
        const req = request(url, { method, headers, agent }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', () => finish({ status: 0, body: null, error: 'network' }));
          res.on('end', () => {
            let body: Record<string, unknown> | null = null;
            try {
              body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : null;
            } catch {
              body = null;
            }
            finish({ status: res.statusCode ?? 0, body, error: null });
          });
        });
        const timer = setTimeout(() => {
          req.destroy();
          finish({ status: 0, body: null, error: 'timeout' });
        }, settings.timeoutMs);
        req.on('error', () => finish({ status: 0, body: null, error: 'network' }));
        req.end(options.body);
      });
    },
    close: () => agent.destroy(),
  };
}

/** The error code of an error body (`{ error: { code, details: { reason } } }`): `sold_out`, `not_found` ... */
export function errorReason(body: Record<string, unknown> | null): string {
  const error = body?.['error'] as { code?: string; details?: { reason?: string } } | undefined;
  return error?.details?.reason ?? error?.code ?? 'unknown';
}
