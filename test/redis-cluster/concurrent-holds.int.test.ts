// The purchase spike on a real Redis Cluster (three masters on loopback, started here): two nodes
// take 1,000 concurrent hold requests for 100 tickets, exactly 100 are held, paid and sold. The
// event's keys and the queues' keys are checked to live on different masters, so a test that only
// ever touched one node cannot pass; and a short hold on a third node ends through its BullMQ timer
// while a buyer's socket on another node hears every step (the Socket.IO adapter over the cluster).
import type { Cluster } from 'ioredis';
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AvailabilityView, type AvailabilitySnapshot, type AvailabilityUpdate } from '../../clients/sdk/availability-view.ts';
import { inventoryKeys } from '../../server/inventory/index.ts';
import { queuePrefix } from '../../server/jobs/index.ts';
import { HOLD_TIMER_QUEUE } from '../../server/purchases/timers.ts';
import { createTestDatabase, type TestDatabase, type TestRedis } from '../helpers/databases.ts';
import { assertPromises, buy, oversubscribedSpike, people, saleEvent, settled, type Person, type Sale } from '../helpers/purchases.ts';
import { createClusterTestRedis, keysPerMaster, masterPortOf, startRedisCluster, type LocalRedisCluster } from '../helpers/redis-cluster.ts';
import { call, startTestServer, type TestServer } from '../helpers/server.ts';

// No sweeps after start-up: a hold that ends can only have ended through its queue timer.
const ENV = {
  RATE_LIMIT_GLOBAL_PER_MINUTE: '1000000',
  RATE_LIMIT_PURCHASES_PER_USER_PER_MINUTE: '100000',
  SWEEP_INTERVAL_SECONDS: '3600',
  LIVE_INTERVAL_MS: '50',
};

describe('on a Redis Cluster of three masters', () => {
  let cluster: LocalRedisCluster;
  let db: TestDatabase;
  let redis: TestRedis & { client: Cluster };
  let a: TestServer;
  let b: TestServer;
  let organizer: Person;
  let buyers: Person[];

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3 });
    [db, redis] = await Promise.all([createTestDatabase(), createClusterTestRedis(cluster)]);
    [a, b] = await Promise.all([startTestServer(db, redis, ENV), startTestServer(db, redis, ENV)]);
    [[organizer], buyers] = (await Promise.all([people(db.sql, 1, 'organizer'), people(db.sql, 200)])) as [[Person], Person[]];
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await Promise.all([db?.drop(), redis?.cleanup()]);
    await cluster?.stop();
  });

  const eventMaster = (eventId: string) => masterPortOf(redis.client, inventoryKeys(redis.prefix, eventId).fence());
  const timerQueueMaster = () => masterPortOf(redis.client, `${queuePrefix({ redis: redis.target, keyPrefix: redis.prefix }, HOLD_TIMER_QUEUE)}:${HOLD_TIMER_QUEUE}:id`);
  const available = async (sale: Sale) => Number(await redis.client.get(inventoryKeys(redis.prefix, sale.eventId).available(sale.ga)));
  const total = (counts: Map<number, number>) => [...counts.values()].reduce((sum, n) => sum + n, 0);

  /** An on-sale event whose hash tag lands on another master than the hold timers' queue. */
  async function saleAwayFromQueues(capacity: number): Promise<Sale> {
    const queues = await timerQueueMaster();
    for (let tries = 0; tries < 30; tries++) {
      const sale = await saleEvent(db.sql, organizer.id, { capacity });
      if ((await eventMaster(sale.eventId)) !== queues) return sale;
    }
    throw new Error('no event landed away from the queues in 30 tries');
  }

  it('both nodes are ready: the cluster serves every slot, each master answers, every queue has its worker', async () => {
    for (const node of [a, b]) {
      const ready = await call<{ status: string; checks: Record<string, string> }>(`${node.url}/health/ready`);
      expect(ready.status, JSON.stringify(ready.body)).toBe(200);
      expect(ready.body.checks['redis']).toBe('ok');
      expect(Object.keys(ready.body.checks).filter((name) => name.startsWith('queue:')).length).toBeGreaterThanOrEqual(4);
    }
  });

  it('1,000 concurrent holds for 100 tickets over two nodes: exactly 100 held, then exactly 100 sold', async () => {
    const sale = await saleAwayFromQueues(100);
    await oversubscribedSpike(db.sql, sale, buyers, [b.api, a.api]);
    expect(await available(sale)).toBe(0);
    expect(total(await keysPerMaster(redis.client, `${redis.prefix}:{ev:${sale.eventId}}:hold:*`))).toBe(0);
    await assertPromises(db.sql, redis, sale.eventId);

    // The work really was spread: the event's keys on one master, the queues' (the payment events
    // just processed, kept a while) on another.
    const eventKeys = await keysPerMaster(redis.client, `${redis.prefix}:{ev:${sale.eventId}}:*`);
    const queueKeys = await keysPerMaster(redis.client, `${redis.prefix}:{jobs:*`);
    const [eventOn, queuesOn] = [await eventMaster(sale.eventId), await timerQueueMaster()];
    expect(eventOn).not.toBe(queuesOn);
    expect(eventKeys.get(eventOn)).toBeGreaterThan(0);
    expect(total(eventKeys)).toBe(eventKeys.get(eventOn));
    expect(queueKeys.get(queuesOn)).toBeGreaterThan(0);
  });

  it('a short hold on a third node ends through its queue timer; a socket on another node sees each step', async () => {
    const c = await startTestServer(db, redis, { ...ENV, HOLD_TTL_SECONDS: '1' });
    const sockets: Socket[] = [];
    try {
      const sale = await saleAwayFromQueues(5);
      const buyer = buyers[0]!;
      const socket = connect(a.url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token: buyer.token } });
      sockets.push(socket);
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', reject);
      });
      const states: string[] = [];
      const seen = new AvailabilityView();
      const counts: number[] = [];
      socket.on('purchase', (u: { state: string }) => states.push(u.state));
      socket.on('availability', (u: AvailabilityUpdate & { eventId: string }) => {
        if (u.eventId !== sale.eventId) return;
        seen.applyUpdate(u);
        counts.push(seen.counts[sale.ga]!);
      });
      seen.applySnapshot((await socket.emitWithAck('watch', { eventId: sale.eventId })) as AvailabilitySnapshot);
      expect(seen.counts[sale.ga]).toBe(5);

      const created = await buy(c.api, buyer, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ga, quantity: 2 }] });
      expect(created.status).toBe(201);
      expect(await settled(db.sql, created.body.id, ['expired'], 15_000)).toBe('expired');
      const log = await call<{ items: { to: string; event: string }[] }>(`${c.api}/purchases/${created.body.id}/transitions`, { token: buyer.token });
      expect(log.body.items.at(-1)).toMatchObject({ to: 'expired', event: 'hold.expired' });

      // Told on node a, though the hold was placed on c and the timer ran on whichever node took it.
      await expect.poll(() => states.at(-1), { timeout: 5_000 }).toBe('expired');
      expect(states).toContain('held');
      await expect.poll(() => seen.counts[sale.ga], { timeout: 5_000 }).toBe(5);
      expect(counts).toContain(3);
      await assertPromises(db.sql, redis, sale.eventId);
    } finally {
      for (const socket of sockets) socket.disconnect();
      await c.stop();
    }
  });
});
