// Holds that are not paid expire, durably: the BullMQ timer delivers hold.expired, and the sweep
// over Postgres catches what a lost timer missed. Also when the instance that placed the hold was
// killed (SIGKILL, no shutdown) before the deadline: another instance finishes the job.
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { producerOptions } from '../../server/jobs/index.ts';
import { freePort } from '../../server/local/system.ts';
import { HOLD_TIMER_QUEUE } from '../../server/purchases/timers.ts';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '../helpers/databases.ts';
import { nodeEnv, spawnScript, waitReady } from '../helpers/processes.ts';
import { assertPromises, buy, people, saleEvent, settled, type Person } from '../helpers/purchases.ts';
import { call, startTestServer } from '../helpers/server.ts';

describe('hold expiry', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let organizer: Person;
  let buyers: Person[];

  beforeAll(async () => {
    [db, redis] = await Promise.all([createTestDatabase(), createTestRedis()]);
    [[organizer], buyers] = (await Promise.all([people(db.sql, 1, 'organizer'), people(db.sql, 5)])) as [[Person], Person[]];
  });
  afterAll(async () => {
    await Promise.all([db?.drop(), redis?.cleanup()]);
  });

  const available = async (eventId: string, typeId: string) => Number(await redis.client.get(`${redis.prefix}:{ev:${eventId}}:avail:${typeId}`));
  const paymentOf = (body: Record<string, unknown>) => (body['payment'] as { paymentId: string }).paymentId;

  it('an unpaid hold expires on its timer: tickets return, the payment is cancelled, the log says so', async () => {
    const server = await startTestServer(db, redis, { HOLD_TTL_SECONDS: '1', SWEEP_INTERVAL_SECONDS: '3600' });
    try {
      const sale = await saleEvent(db.sql, organizer.id, { capacity: 4, seats: 2 });
      const buyer = buyers[0]!;
      const created = await buy(server.api, buyer, {
        eventId: sale.eventId,
        items: [
          { ticketTypeId: sale.ga, quantity: 3 },
          { ticketTypeId: sale.seated, seatIds: sale.seatIds },
        ],
      });
      expect(created.status).toBe(201);
      expect(await available(sale.eventId, sale.ga)).toBe(1);

      expect(await settled(db.sql, created.body.id, ['expired'], 10_000)).toBe('expired');
      await expect.poll(() => available(sale.eventId, sale.ga)).toBe(4);
      await expect.poll(() => available(sale.eventId, sale.seated)).toBe(2);
      const seats = await redis.client.mget(...sale.seatIds.map((s) => `${redis.prefix}:{ev:${sale.eventId}}:seat:${s}`));
      expect(seats).toEqual([null, null]);
      const log = await call<{ items: { to: string; event: string }[] }>(`${server.api}/purchases/${created.body.id}/transitions`, { token: buyer.token });
      expect(log.body.items.at(-1)).toMatchObject({ to: 'expired', event: 'hold.expired' });
      // The sandbox payment was cancelled: paying now is refused, and the purchase stays expired.
      const late = await call(`${server.api}/sandbox/payments/${paymentOf(created.body)}/succeed`, { token: buyer.token, body: {} });
      expect(late.status).toBe(409);
      // Someone else can buy what came back.
      const next = await buy(server.api, buyers[1]!, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ga, quantity: 4 }] });
      expect(next.status).toBe(201);
      await assertPromises(db.sql, redis, sale.eventId);
    } finally {
      await server.stop();
    }
  });

  it('holds placed by a killed instance expire on another: by their timer, or by the sweep when the timer is lost', async () => {
    const port = await freePort();
    const child = spawnScript('server/main.ts', [], {
      ...nodeEnv(db, redis, port),
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      HOLD_TTL_SECONDS: '2',
      SWEEP_INTERVAL_SECONDS: '3600',
    });
    let exited = false;
    void child.exit.then(() => (exited = true));
    const base = `http://127.0.0.1:${port}`;
    expect(await waitReady(`${base}/health/ready`, () => exited), child.output()).toBe(200);

    const sale = await saleEvent(db.sql, organizer.id, { capacity: 5 });
    const first = await buy(`${base}/api/v1`, buyers[2]!, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ga, quantity: 2 }] });
    const second = await buy(`${base}/api/v1`, buyers[3]!, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ga, quantity: 2 }] });
    expect([first.status, second.status]).toEqual([201, 201]);
    child.kill('SIGKILL');
    await child.exit;
    expect(await available(sale.eventId, sale.ga)).toBe(1);

    // The second purchase's timer is lost (as if Redis dropped the job): only the sweep can end it.
    const timers = new Queue(HOLD_TIMER_QUEUE, producerOptions({ redis: redis.target, keyPrefix: redis.prefix }, redis.client, HOLD_TIMER_QUEUE));
    expect(await timers.remove(`expire-${second.body.id}`)).toBe(1);
    await timers.close();

    const survivor = await startTestServer(db, redis, { SWEEP_INTERVAL_SECONDS: '1' });
    try {
      expect(await settled(db.sql, first.body.id, ['expired'], 15_000)).toBe('expired');
      expect(await settled(db.sql, second.body.id, ['expired'], 15_000)).toBe('expired');
      // The release runs right after the expiry is committed: give it its moment.
      await expect.poll(() => available(sale.eventId, sale.ga)).toBe(5);
      await assertPromises(db.sql, redis, sale.eventId);
    } finally {
      await survivor.stop();
    }
  });
});
