// Graceful shutdown of a real listening node (real Postgres, Redis and sockets): readiness turns
// 503 at once, new connections are refused, the in-flight request finishes, pools close, exit 0.
import { request } from 'node:http';
import { connect } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from './server.ts';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '../test/helpers/databases.ts';
import { testConfig } from '../test/helpers/config.ts';
import { createShutdown } from './shutdown.ts';

function latch() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

function get(port: number, path: string): Promise<{ status: number; body: string; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Resolves 'connected' or the connection error's code. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

describe('graceful shutdown', () => {
  let db: TestDatabase;
  let redis: TestRedis;

  beforeAll(async () => {
    db = await createTestDatabase();
    redis = await createTestRedis();
  });
  afterAll(async () => {
    await redis.cleanup();
    await db.drop();
  });

  it('finishes the in-flight request, refuses new connections, closes pools and exits 0', async () => {
    const entered = latch();
    const release = latch();
    const exits: number[] = [];
    const config = testConfig({ DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_KEY_PREFIX: redis.prefix, PORT: '0', HOST: '127.0.0.1' });
    const server: RunningServer = await startServer(config, {
      log: pino({ level: 'silent' }),
      handleSignals: false,
      exit: (code) => exits.push(code),
      apiPlugins: [
        (api) => {
          api.get('/slow', { config: { policy: 'public' } }, async () => {
            entered.open();
            await release.opened;
            return { done: true };
          });
        },
      ],
    });
    const port = Number(new URL(server.url).port);
    expect((await get(port, '/health/ready')).status).toBe(200);

    const inFlight = get(port, '/api/v1/slow');
    await entered.opened;
    const stopping = server.lifecycle.shutdown('SIGTERM');

    // Readiness turns 503 at once (asked in-process: the listener is already closing).
    const ready = await server.app.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ error: { code: 'service_unavailable' } });

    // No new connections while the slow request is still running.
    await expect.poll(() => tryConnect(port), { timeout: 5_000 }).toBe('ECONNREFUSED');
    expect(exits).toEqual([]);

    release.open();
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ done: true });
    expect(response.connection).toBe('close');

    expect(await stopping).toBe(0);
    expect(exits).toEqual([0]);
    // Pools are closed: the Redis client has quit and Postgres refuses new queries.
    expect(server.redis.status).toBe('end');
    await expect(server.sql`select 1`).rejects.toThrow();
  });

  it('with a drain delay, keeps serving (connection: close) while readiness says 503, then stops', async () => {
    const exits: number[] = [];
    const config = testConfig({
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: redis.prefix,
      PORT: '0',
      HOST: '127.0.0.1',
      SHUTDOWN_DRAIN_DELAY_MS: '1500',
    });
    const server = await startServer(config, { log: pino({ level: 'silent' }), handleSignals: false, exit: (code) => exits.push(code) });
    const port = Number(new URL(server.url).port);
    const stopping = server.lifecycle.shutdown('SIGTERM');
    expect((await get(port, '/health/ready')).status).toBe(503);
    const served = await get(port, '/api/v1');
    expect(served.status).toBe(200);
    expect(served.connection).toBe('close');
    expect(exits).toEqual([]);
    expect(await stopping).toBe(0);
    expect(await tryConnect(port)).toBe('ECONNREFUSED');
    expect(exits).toEqual([0]);
  });

  it('is bounded: a step that hangs ends in exit 1 after the timeout', async () => {
    const exits: number[] = [];
    const lifecycle = createShutdown({ log: pino({ level: 'silent' }), timeoutMs: 50, exit: (code) => exits.push(code) });
    lifecycle.add({ name: 'hangs', run: () => new Promise<void>(() => {}) });
    expect(lifecycle.isShuttingDown()).toBe(false);
    const first = lifecycle.shutdown('SIGTERM');
    const second = lifecycle.shutdown('SIGINT');
    expect(lifecycle.isShuttingDown()).toBe(true);
    expect(await first).toBe(1);
    expect(await second).toBe(1);
    expect(exits).toEqual([1]);
  });

  it('runs every step even when one fails, and reports the failure in the exit code', async () => {
    const exits: number[] = [];
    const ran: string[] = [];
    const lifecycle = createShutdown({ log: pino({ level: 'silent' }), timeoutMs: 1_000, exit: (code) => exits.push(code) });
    lifecycle.add({ name: 'a', run: () => Promise.resolve(void ran.push('a')) });
    lifecycle.add({ name: 'b', run: () => Promise.reject(new Error('boom')) });
    lifecycle.add({ name: 'c', run: () => Promise.resolve(void ran.push('c')) });
    expect(await lifecycle.shutdown('SIGTERM')).toBe(1);
    expect(ran).toEqual(['a', 'c']);
    expect(exits).toEqual([1]);
  });
});
