// The real entry points as separate processes: main.ts serves and exits 0 on SIGTERM, refuses
// bad or unsafe config with one message naming every variable; the migrate CLI goes up, reports
// status and goes down.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './local/system.ts';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '../test/helpers/databases.ts';
import { nodeEnv, spawnScript, waitReady } from '../test/helpers/processes.ts';

interface CollectedSpan {
  service: string;
  name: string;
  traceId: string;
}

/** A stand-in OpenTelemetry collector: takes OTLP/HTTP JSON trace exports on /v1/traces. */
async function otlpCollector() {
  const received: CollectedSpan[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        const payload = JSON.parse(body) as {
          resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: { name: string; traceId: string }[] }[] }[];
        };
        for (const rs of payload.resourceSpans) {
          const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
          for (const ss of rs.scopeSpans) for (const span of ss.spans) received.push({ service, name: span.name, traceId: span.traceId });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans: () => [...received],
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('process entry points', () => {
  let db: TestDatabase;
  let empty: TestDatabase;
  let redis: TestRedis;

  beforeAll(async () => {
    [db, empty, redis] = await Promise.all([createTestDatabase(), createTestDatabase({ migrated: false }), createTestRedis()]);
  });
  afterAll(async () => {
    await Promise.all([db.drop(), empty.drop(), redis.cleanup()]);
  });

  it('main.ts serves until SIGTERM, then drains, flushes its spans to the OTLP collector and exits 0', async () => {
    const collector = await otlpCollector();
    const port = await freePort();
    const proc = spawnScript('server/main.ts', [], {
      ...nodeEnv(db, redis, port),
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_SERVICE_NAME: 'boxoffice-process-test',
    });
    try {
      let exited = false;
      void proc.exit.then(() => (exited = true));
      expect(await waitReady(`http://127.0.0.1:${port}/health/ready`, () => exited), proc.output()).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/api/v1/`)).status).toBe(200);

      proc.kill('SIGTERM');
      expect(await proc.exit).toBe(0);
      const lines = proc
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { msg: string; reason?: string; code?: number; traceId?: string; spanId?: string; requestId?: string; url?: string });
      expect(lines.find((l) => l.msg === 'shutting down')?.reason).toBe('SIGTERM');
      expect(lines.find((l) => l.msg === 'shutdown complete')?.code).toBe(0);

      // The request's span reached the collector (sent at shutdown, before the batch delay), and
      // its log line carries the same trace id; probes are not traced.
      const spans = collector.spans();
      expect(spans.every((s) => s.service === 'boxoffice-process-test')).toBe(true);
      const served = spans.find((s) => s.name.startsWith('GET /api/v1'));
      expect(served, JSON.stringify(spans.map((s) => s.name))).toBeDefined();
      expect(spans.some((s) => s.name.includes('/health'))).toBe(false);
      // Queue upkeep (stall checks, closing) does not start traces of its own.
      expect(spans.filter((s) => /^(startStalledCheckTimer|moveStalledJobsToWait|close) /.test(s.name))).toEqual([]);
      const logged = lines.find((l) => l.url === '/api/v1/' && l.msg === 'request completed');
      expect(logged?.requestId).toBeTruthy();
      expect(logged?.traceId).toBe(served!.traceId);
      expect(logged?.spanId).toMatch(/^[0-9a-f]{16}$/);
    } finally {
      await collector.close();
    }
  });

  it('main.ts refuses bad config with one message naming every offending variable', async () => {
    const proc = spawnScript('server/main.ts', [], { PORT: 'not-a-port', REDIS_URL: 'http://wrong', LOG_LEVEL: 'loud' });
    expect(await proc.exit).toBe(1);
    const out = proc.output();
    expect(out).toMatch(/invalid configuration \(4 problems\)/);
    for (const variable of ['PORT', 'REDIS_URL', 'LOG_LEVEL', 'DATABASE_URL']) expect(out).toContain(`- ${variable}:`);
  });

  it('main.ts refuses unsafe production config', async () => {
    const proc = spawnScript('server/main.ts', [], {
      NODE_ENV: 'production',
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      JWT_SECRET: 'short',
      CORS_ORIGINS: '*',
      API_DOCS: 'true',
    });
    expect(await proc.exit).toBe(1);
    const out = proc.output();
    for (const variable of ['JWT_SECRET', 'CORS_ORIGINS', 'API_DOCS', 'PAYMENT_PROVIDER']) expect(out).toContain(`- ${variable}:`);
  });

  it('the migrate CLI goes up, reports status, goes down, and rejects bad arguments', async () => {
    const env = { DATABASE_URL: empty.url, LOG_LEVEL: 'info' };
    const up = spawnScript('server/cli/migrate.ts', ['up'], env);
    expect(await up.exit, up.output()).toBe(0);

    const status = spawnScript('server/cli/migrate.ts', ['status'], env);
    expect(await status.exit).toBe(0);
    expect(status.output()).toMatch(/0001 identity\s+applied/);
    expect(status.output()).toMatch(/0002 catalog\s+applied/);

    const down = spawnScript('server/cli/migrate.ts', ['down', '8'], env);
    expect(await down.exit).toBe(0);
    const [row] = await empty.sql<{ n: number }[]>`select count(*)::int as n from schema_migrations where version = 2`;
    expect(row?.n).toBe(0);
    expect((await empty.sql`select to_regclass('events') as t`)[0]?.['t']).toBeNull();

    const bad = spawnScript('server/cli/migrate.ts', ['sideways'], env);
    expect(await bad.exit).toBe(2);
    expect(bad.output()).toContain('usage:');
  });
});
