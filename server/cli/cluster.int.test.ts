// `npm run cluster` as a user runs it, over the test database and Redis: two real node processes
// that share purchases and live updates, all stopped by one SIGTERM; bad arguments get a usage
// message and exit code 2.
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AvailabilitySnapshot, AvailabilityUpdate } from '../../clients/sdk/availability-view.ts';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '../../test/helpers/databases.ts';
import { nodeEnv, spawnScript, waitReady, type Spawned } from '../../test/helpers/processes.ts';
import { buy, people, saleEvent } from '../../test/helpers/purchases.ts';
import { call } from '../../test/helpers/server.ts';
import { freePort } from '../local/system.ts';
import { portIsFree } from './cluster-node.ts';

/** Bounds for each wait below: generous, for a busy two-core machine; nothing is timed. */
const UPDATE_WAIT_MS = 20_000;
const EXIT_WAIT_MS = 45_000;

/** A base port whose next `count - 1` ports are free too. */
async function consecutiveFreePorts(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = await freePort();
    if (base + count - 1 > 65_535) continue;
    const rest = await Promise.all(Array.from({ length: count - 1 }, (_, i) => portIsFree('127.0.0.1', base + i + 1)));
    if (rest.every(Boolean)) return base;
  }
  throw new Error(`no ${count} consecutive free ports`);
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function openSocket(url: string): Promise<Socket> {
  const socket = connect(url, { transports: ['websocket'], reconnection: false, forceNew: true });
  await within(
    new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    }),
    UPDATE_WAIT_MS,
    'socket connect',
  );
  return socket;
}

describe('npm run cluster', () => {
  let db: TestDatabase;
  let redis: TestRedis;

  beforeAll(async () => {
    [db, redis] = await Promise.all([createTestDatabase(), createTestRedis()]);
  });
  afterAll(async () => {
    await Promise.all([db?.drop(), redis?.cleanup()]);
  });

  it('runs two nodes that share holds and live updates, and stops them all on SIGTERM with exit 0', { timeout: 240_000 }, async () => {
    const base = await consecutiveFreePorts(2);
    const [a, b] = [`http://127.0.0.1:${base}`, `http://127.0.0.1:${base + 1}`];
    // The web client is built once by the test setup: rebuilding it here would race the browser tests.
    const cluster: Spawned = spawnScript('server/cli/cluster.ts', ['--nodes', '2', '--port', String(base), '--no-build'], {
      ...nodeEnv(db, redis, base, { NODE_ENV: 'test', LOG_LEVEL: 'warn', LOG_PRETTY: 'false' }),
    });
    let exited = false;
    void cluster.exit.then(() => (exited = true));
    let socket: Socket | null = null;
    try {
      for (const node of [a, b]) expect(await waitUntilReady(node, () => exited), cluster.output()).toBe(200);

      const [[organizer], [buyer]] = await Promise.all([people(db.sql, 1, 'organizer'), people(db.sql, 1)]);
      const sale = await saleEvent(db.sql, organizer!.id, { capacity: 10 });

      // A watcher on node B, with the snapshot before the hold.
      socket = await openSocket(b);
      const snapshot = (await socket.emitWithAck('watch', { eventId: sale.eventId })) as AvailabilitySnapshot;
      expect(snapshot.counts[sale.ga]).toBe(10);
      const watcher = socket;
      const seen = new Promise<AvailabilityUpdate>((resolve) => {
        watcher.on('availability', (update: AvailabilityUpdate & { eventId: string }) => {
          if (update.eventId === sale.eventId && update.counts[sale.ga] === 8) resolve(update);
        });
      });

      // The hold is placed on node A ...
      const held = await buy(`${a}/api/v1`, buyer!, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ga, quantity: 2 }] });
      expect(held.status, JSON.stringify(held.body)).toBe(201);

      // ... node B serves the purchase and the event's availability ...
      const fromB = await call<{ id: string; state: string }>(`${b}/api/v1/purchases/${held.body.id}`, { token: buyer!.token });
      expect(fromB.status, JSON.stringify(fromB.body)).toBe(200);
      expect(fromB.body.id).toBe(held.body.id);
      expect(['held', 'paying']).toContain(fromB.body.state);
      const event = await call<{ ticketTypes: { id: string; available: number }[] }>(`${b}/api/v1/events/${sale.eventId}`);
      expect(event.status).toBe(200);
      expect(event.body.ticketTypes.find((t) => t.id === sale.ga)?.available).toBe(8);

      // ... and B's watcher hears of it.
      expect((await within(seen, UPDATE_WAIT_MS, 'availability update on node B')).counts[sale.ga]).toBe(8);
      socket.disconnect();
      socket = null;

      cluster.kill('SIGTERM');
      expect(await within(cluster.exit, EXIT_WAIT_MS, 'cluster exit'), cluster.output()).toBe(0);
      const lines = logLines(cluster.output());
      expect(lines.find((l) => l.msg === 'stopping the cluster')?.reason).toBe('SIGTERM');
      expect(lines.find((l) => l.msg === 'cluster stopped')?.codes).toEqual([0, 0]);
      // Both nodes let go of their ports.
      expect(await Promise.all([portIsFree('127.0.0.1', base), portIsFree('127.0.0.1', base + 1)])).toEqual([true, true]);
    } finally {
      socket?.disconnect();
      if (!exited) {
        cluster.kill('SIGTERM');
        await within(cluster.exit, EXIT_WAIT_MS, 'cluster exit').catch(() => cluster.kill('SIGKILL'));
      }
    }
  });

  it('refuses a bad --nodes with a usage message and exit code 2', async () => {
    for (const args of [['--nodes', '0'], ['--nodes', '17'], ['--nodes', 'two'], ['--nodes'], ['--sideways']]) {
      const proc = spawnScript('server/cli/cluster.ts', args, { DATABASE_URL: db.url, REDIS_URL: redis.url });
      expect(await within(proc.exit, EXIT_WAIT_MS, 'usage exit'), `${args.join(' ')}: ${proc.output()}`).toBe(2);
      expect(proc.output()).toContain('usage: npm run cluster -- [--nodes N (1..16');
    }
  });
});

/** waitReady, bounded the same way, tried again while the cluster still starts its nodes. */
async function waitUntilReady(url: string, exited: () => boolean): Promise<number> {
  for (let round = 0; round < 4 && !exited(); round++) {
    if ((await waitReady(`${url}/health/ready`, exited)) === 200) return 200;
  }
  return 0;
}

function logLines(output: string): { msg?: string; reason?: string; codes?: unknown }[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as { msg?: string; reason?: string; codes?: unknown }];
      } catch {
        return [];
      }
    });
}
