// A store that goes away under a request: the drivers' real errors (a PostgreSQL backend terminated
// mid-query, a PostgreSQL port nobody listens on, a Redis that is not there) reach the client as a
// 503 with the stable body and a Retry-After, are logged as warnings and never reported as faults.
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import { freePort } from '../local/system.ts';
import { createPostgres, createRedis } from '../store/index.ts';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/databases.ts';
import { testConfig } from '../../test/helpers/config.ts';
import type { App } from './types.ts';

interface LogLine {
  level: number;
  msg: string;
  code?: string;
}

describe('a store away under a request', () => {
  let db: TestDatabase;
  let app: App;
  let closedPort: number;
  const lines: LogLine[] = [];
  const reported: unknown[] = [];

  beforeAll(async () => {
    db = await createTestDatabase({ migrated: false });
    closedPort = await freePort();
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
    app = await buildApp({
      config: testConfig({ LOG_LEVEL: 'info' }),
      log,
      readiness: [],
      isShuttingDown: () => false,
      reportServerError: (err) => void reported.push(err),
      apiPlugins: [
        (api: App) => {
          api.get('/pg-terminated', { config: { policy: 'public' } }, async () => {
            const victim = createPostgres({ url: db.url, poolMax: 1, applicationName: 'boxoffice-victim' });
            try {
              const sleeping = victim`select pg_sleep(30)`.execute();
              // Terminated from outside once it runs: the server ends the backend (57P01).
              for (let i = 0; i < 100; i++) {
                const [row] = await db.sql<{ n: number }[]>`
                  select count(*)::int as n from pg_stat_activity where application_name = 'boxoffice-victim' and state = 'active'`;
                if (row!.n > 0) break;
                await new Promise((resolve) => setTimeout(resolve, 20));
              }
              await db.sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'boxoffice-victim'`;
              return await sleeping;
            } finally {
              await victim.end({ timeout: 1 });
            }
          });
          api.get('/pg-refused', { config: { policy: 'public' } }, async () => {
            const nobody = createPostgres({ url: `postgres://nobody:secret@127.0.0.1:${closedPort}/nothing`, poolMax: 1 });
            try {
              return await nobody`select 1`;
            } finally {
              await nobody.end({ timeout: 1 });
            }
          });
          api.get('/redis-away', { config: { policy: 'public' } }, async () => {
            // A request connection (offline queue off) to a Redis that is not there.
            const redis = createRedis({ url: `redis://127.0.0.1:${closedPort}` });
            redis.on('error', () => {});
            try {
              return await redis.get('anything');
            } finally {
              redis.disconnect();
            }
          });
        },
      ],
    });
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  for (const path of ['/pg-terminated', '/pg-refused', '/redis-away']) {
    it(`${path}: 503 service_unavailable with Retry-After, a warning, not reported`, async () => {
      const before = lines.length;
      const res = await app.inject({ method: 'GET', url: `/api/v1${path}` });
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('2');
      expect(res.json()).toEqual({ error: { code: 'service_unavailable', message: 'temporarily unavailable; retry shortly', details: { retryAfterSeconds: 2 } } });
      const logged = lines.slice(before);
      expect(logged.some((l) => l.level === 40 && l.code === 'service_unavailable')).toBe(true);
      expect(logged.filter((l) => l.level >= 50)).toEqual([]);
      expect(reported).toEqual([]);
    });
  }
});
