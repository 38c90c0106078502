// A whole node in-process on a random loopback port, against a test database and Redis prefix:
// what the integration tests of every capability talk to over real HTTP.
import pino from 'pino';
import { startServer, type RunningServer, type StartOptions } from '../../server/server.ts';
import { testConfig } from './config.ts';
import type { TestDatabase, TestRedis } from './databases.ts';

export interface TestServer {
  url: string;
  api: string;
  server: RunningServer;
  stop(): Promise<void>;
}

export async function startTestServer(
  db: TestDatabase,
  redis: TestRedis,
  env: Record<string, string> = {},
  options: { apiPlugins?: StartOptions['apiPlugins']; waitingRoomClock?: StartOptions['waitingRoomClock'] } = {},
): Promise<TestServer> {
  const config = testConfig({
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    ...(redis.target.kind === 'cluster' ? { REDIS_CLUSTER_NODES: redis.target.nodes.join(',') } : {}),
    REDIS_KEY_PREFIX: redis.prefix,
    HOST: '127.0.0.1',
    PORT: '0',
    ...env,
  });
  const server = await startServer(config, {
    // TEST_LOG=warn (or any pino level) shows the servers' logs on stderr while debugging a test.
    log: pino({ level: process.env['TEST_LOG'] ?? 'silent' }, pino.destination(2)),
    handleSignals: false,
    exit: () => {},
    ...(options.apiPlugins ? { apiPlugins: options.apiPlugins } : {}),
    ...(options.waitingRoomClock ? { waitingRoomClock: options.waitingRoomClock } : {}),
  });
  return {
    url: server.url,
    api: `${server.url}/api/v1`,
    server,
    async stop() {
      await server.lifecycle.shutdown('test over');
    },
  };
}

export interface JsonResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

/** fetch with JSON in and out; never throws on HTTP status. */
export async function call<T = Record<string, unknown>>(
  url: string,
  options: { method?: string; body?: unknown; token?: string | undefined; headers?: Record<string, string> } = {},
): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.token) headers['authorization'] = `Bearer ${options.token}`;
  const res = await fetch(url, {
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : null) as T };
}
