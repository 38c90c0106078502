// Health against real PostgreSQL and Redis: ready only when both answer, migrations are current
// and every queue's worker runs; otherwise 503 naming what failed.
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import { createPostgres, createRedis, readMigrations, type MigrationFile, type Redis, type Sql } from '../store/index.ts';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '../../test/helpers/databases.ts';
import { testConfig } from '../../test/helpers/config.ts';
import { startTestServer } from '../../test/helpers/server.ts';
import { readinessChecks } from './readiness.ts';

interface ReadyBody {
  status?: string;
  checks?: Record<string, string>;
  error?: { code: string; message: string; details: { checks: Record<string, string> } };
}

describe('health', () => {
  let migrated: TestDatabase;
  let empty: TestDatabase;
  let redis: TestRedis;
  let migrations: MigrationFile[];

  beforeAll(async () => {
    [migrated, empty, redis] = await Promise.all([createTestDatabase(), createTestDatabase({ migrated: false }), createTestRedis()]);
    migrations = await readMigrations();
  });
  afterAll(async () => {
    await Promise.all([migrated.drop(), empty.drop(), redis.cleanup()]);
  });

  async function ready(sql: Sql, client: Redis, shuttingDown = false) {
    const app = await buildApp({
      config: testConfig(),
      log: pino({ level: 'silent' }),
      isShuttingDown: () => shuttingDown,
      readiness: readinessChecks({ sql, redis: client, migrations }),
    });
    try {
      const live = await app.inject({ method: 'GET', url: '/health/live' });
      const res = await app.inject({ method: 'GET', url: '/health/ready' });
      return { live: live.statusCode, status: res.statusCode, body: res.json<ReadyBody>() };
    } finally {
      await app.close();
    }
  }

  it('is ready when PostgreSQL and Redis answer and migrations are current', async () => {
    const res = await ready(migrated.sql, redis.client);
    expect(res.live).toBe(200);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', checks: { postgres: 'ok', redis: 'ok', migrations: 'ok' } });
  });

  it('names pending migrations', async () => {
    const res = await ready(empty.sql, redis.client);
    expect(res.status).toBe(503);
    expect(res.body.error?.code).toBe('service_unavailable');
    expect(res.body.error?.message).toBe('not ready: migrations');
    expect(res.body.error?.details.checks['migrations']).toMatch(/pending 1, 2, 3, 4/);
    expect(res.body.error?.details.checks['postgres']).toBe('ok');
  });

  it('names Redis when it does not answer', async () => {
    const away = createRedis({ url: 'redis://127.0.0.1:1' });
    away.on('error', () => {});
    try {
      const res = await ready(migrated.sql, away);
      expect(res.status).toBe(503);
      expect(res.body.error?.message).toBe('not ready: redis');
      expect(res.body.error?.details.checks['redis']).toMatch(/^failed: /);
      expect(res.live).toBe(200);
    } finally {
      away.disconnect();
    }
  });

  it('names Redis when a cluster does not answer', async () => {
    const away = createRedis({ target: { kind: 'cluster', nodes: ['redis://127.0.0.1:1'] } });
    away.on('error', () => {});
    try {
      const res = await ready(migrated.sql, away);
      expect(res.status).toBe(503);
      expect(res.body.error?.message).toBe('not ready: redis');
      expect(res.body.error?.details.checks['redis']).toMatch(/^failed: /);
    } finally {
      away.disconnect();
    }
  });

  it('names PostgreSQL when it does not answer', async () => {
    const url = new URL(migrated.url);
    url.pathname = '/no_such_database';
    const gone = createPostgres({ url: url.toString(), poolMax: 1 });
    try {
      const res = await ready(gone, redis.client);
      expect(res.status).toBe(503);
      expect(res.body.error?.details.checks['postgres']).toMatch(/^failed: /);
      expect(res.body.error?.message).toContain('postgres');
    } finally {
      await gone.end();
    }
  });

  it('checks every queue the node works, and names the one whose worker stopped', async () => {
    const node = await startTestServer(migrated, redis);
    try {
      const ok = await fetch(`${node.url}/health/ready`);
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as ReadyBody).checks).toEqual({
        postgres: 'ok',
        redis: 'ok',
        migrations: 'ok',
        'queue:mail': 'ok',
        'queue:hold-timers': 'ok',
        'queue:payment-events': 'ok',
        'queue:event-refunds': 'ok',
      });

      const holdTimers = node.server.purchases.workers().find((w) => w.queue === 'hold-timers');
      await holdTimers!.close();
      const res = await fetch(`${node.url}/health/ready`);
      const body = (await res.json()) as ReadyBody;
      expect(res.status).toBe(503);
      expect(body.error?.message).toBe('not ready: queue:hold-timers');
      expect(body.error?.details.checks['queue:hold-timers']).toBe('failed: worker not running');
      expect(body.error?.details.checks['queue:mail']).toBe('ok');
    } finally {
      await node.stop();
    }
  });

  it('turns unready as soon as shutdown begins', async () => {
    const res = await ready(migrated.sql, redis.client, true);
    expect(res.status).toBe(503);
    expect(res.body.error?.code).toBe('service_unavailable');
  });
});
