// The waiting room's rules against real Redis and PostgreSQL, on a clock the test drives: the
// lottery before the on-sale instant, arrival order after it, one place per account, the rate
// kept by two nodes running rounds at once, and a turn lost when no hold follows an admission.
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '../../test/helpers/databases.ts';
import { testConfig } from '../../test/helpers/config.ts';
import { people, type Person } from '../../test/helpers/purchases.ts';
import { createMetrics, type Metrics } from '../observability/index.ts';
import type { Sql } from '../store/index.ts';
import { createWaitingRoom, roomKeys, type WaitingRoom } from './index.ts';

const WINDOW_SECONDS = 10;

/** A published event whose sale opens at `salesStartAt` (epoch ms), marked high-demand. */
async function roomEvent(sql: Sql, organizerId: string, salesStartAt: number, admitPerSecond: number | null, highDemand = true): Promise<string> {
  const [event] = await sql<{ id: string }[]>`
    insert into events (organizer_id, slug, title, timezone, starts_at, ends_at, sales_start_at, sales_end_at, status, published_at,
                        high_demand, admit_per_second)
    values (${organizerId}, ${`room-${randomUUID().slice(0, 8)}`}, 'Spike', 'UTC', now() + interval '10 days', now() + interval '11 days',
            ${new Date(salesStartAt)}, now() + interval '9 days', 'published', now(), ${highDemand}, ${admitPerSecond})
    returning id`;
  return event!.id;
}

describe('waiting room rounds', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let organizer: Person;
  let visitors: Person[];
  const salesStart = Date.now() - 60_000;
  let clock = salesStart - 10_000;

  /** One node's waiting room on the shared clock (its timer is never started: the test runs rounds). */
  function node(options: { lotteryScore?: () => number; metrics?: Metrics } = {}): WaitingRoom {
    return createWaitingRoom({
      config: testConfig({ REDIS_KEY_PREFIX: redis.prefix, WAITING_ROOM_HOLD_WINDOW_SECONDS: String(WINDOW_SECONDS), WAITING_ROOM_TICK_MS: '500' }),
      sql: db.sql,
      redis: redis.client,
      log: pino({ level: 'silent' }),
      now: () => clock,
      ...options,
    });
  }

  beforeAll(async () => {
    [db, redis] = await Promise.all([createTestDatabase(), createTestRedis()]);
    [[organizer], visitors] = (await Promise.all([people(db.sql, 1, 'organizer'), people(db.sql, 60)])) as [[Person], Person[]];
  });
  afterAll(async () => {
    await Promise.all([db?.drop(), redis?.cleanup()]);
  });
  // Each test's rounds tick only its own rooms (earlier tests' rooms are no longer listed).
  beforeEach(async () => void (await redis.client.del(`${redis.prefix}:waiting-rooms`)));

  it('before the on-sale instant places are a lottery: no position until the draw, then the draw decides, not arrival', async () => {
    clock = salesStart - 10_000;
    const eventId = await roomEvent(db.sql, organizer.id, salesStart, 5);
    // The draw is fixed here: each later visitor draws a better place than the one before.
    let draw = 1_000_000;
    const room = node({ lotteryScore: () => (draw -= 1_000) });
    const line = visitors.slice(0, 50);
    for (const [i, v] of line.entries()) {
      // Up to and including the on-sale instant itself.
      if (i === line.length - 1) clock = salesStart;
      const status = await room.visitors.join(eventId, v.id);
      expect(status).toMatchObject({ state: 'waiting', position: null, number: null, lottery: true, estimatedWaitSeconds: null, waiting: i + 1 });
      expect(status.drawAt.getTime()).toBe(salesStart);
    }
    expect((await room.visitors.status(eventId, line[0]!.id)).position).toBeNull();

    await room.tick(); // at the on-sale instant: the draw, and no time yet to admit anyone
    const numbers = await Promise.all(line.map(async (v) => (await room.visitors.status(eventId, v.id)).number));
    expect(numbers).toEqual(line.map((_, i) => line.length - i));
    const last = await room.visitors.status(eventId, line.at(-1)!.id);
    expect(last).toMatchObject({ state: 'waiting', position: 1, number: 1, lottery: false, admittedThrough: 0, estimatedWaitSeconds: 1 });
    expect((await room.visitors.status(eventId, line[0]!.id)).estimatedWaitSeconds).toBe(10); // position 50 at 5 per second
  });

  it('with real random draws the places are a permutation, not the order of arrival', async () => {
    clock = salesStart - 5_000;
    const eventId = await roomEvent(db.sql, organizer.id, salesStart, 5);
    const room = node();
    const line = visitors.slice(0, 40);
    for (const v of line) await room.visitors.join(eventId, v.id);
    clock = salesStart;
    await room.tick();
    const numbers = await Promise.all(line.map(async (v) => (await room.visitors.status(eventId, v.id)).number!));
    expect([...numbers].sort((a, b) => a - b)).toEqual(line.map((_, i) => i + 1));
    // Arrival order would be 1..40; a fair draw gives that once in 40! (about 1e-48).
    expect(numbers).not.toEqual(line.map((_, i) => i + 1));
  });

  it('after the draw visitors queue in arrival order, behind every lottery place, and one place per account', async () => {
    clock = salesStart - 1_000;
    const eventId = await roomEvent(db.sql, organizer.id, salesStart, 2);
    const room = node({ lotteryScore: () => 0 });
    const [early, ...late] = visitors.slice(0, 6);
    await room.visitors.join(eventId, early!.id);
    clock = salesStart + 1;
    // After the instant, before any round: this join draws the lottery, and queues behind it.
    const first = await room.visitors.join(eventId, late[0]!.id);
    expect(first).toMatchObject({ state: 'waiting', number: 2, position: 2, lottery: false });
    await room.tick();
    for (const [i, v] of late.slice(1).entries()) {
      const status = await room.visitors.join(eventId, v.id);
      expect(status).toMatchObject({ state: 'waiting', lottery: false, number: i + 3, position: i + 3, admittedThrough: 0 });
    }
    expect((await room.visitors.status(eventId, early!.id)).number).toBe(1);
    expect((await room.visitors.status(eventId, late[0]!.id)).number).toBe(2);

    // Joining again (even many times at once, on two nodes) keeps the first place.
    const other = node();
    const again = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? room : other).visitors.join(eventId, late[1]!.id)));
    expect(new Set(again.map((s) => s.number))).toEqual(new Set([3]));
    expect(await redis.client.zcard(roomKeys(redis.prefix, eventId)[0]!)).toBe(6);

    // Admitted, joining again keeps the admission (and its expiry).
    clock += 1_000; // 2 per second: the first two
    await room.tick();
    const admitted = await room.visitors.join(eventId, early!.id);
    expect(admitted).toMatchObject({ state: 'admitted', position: null, estimatedWaitSeconds: 0, admittedThrough: 2 });
    expect(admitted.admissionToken).toEqual(expect.any(String));
    expect((await other.visitors.join(eventId, early!.id)).expiresAt).toEqual(admitted.expiresAt);
    expect((await room.visitors.status(eventId, late[1]!.id))).toMatchObject({ number: 3, position: 1 });
  });

  it('two nodes running rounds at once admit exactly at the rate, never ahead of it, and never before the on-sale instant', async () => {
    clock = salesStart - 2_000;
    const perSecond = 7;
    const eventId = await roomEvent(db.sql, organizer.id, salesStart, perSecond);
    const [a, b] = [node(), node()];
    const line = visitors.slice(0, 60);
    for (const v of line) await a.visitors.join(eventId, v.id);
    const [, admittedKey, stateKey] = roomKeys(redis.prefix, eventId);

    await Promise.all([a.tick(), b.tick(), a.tick(), b.tick()]);
    expect(await redis.client.zcard(admittedKey!)).toBe(0);

    clock = salesStart;
    await Promise.all([a.tick(), b.tick()]); // the draw
    const order = await Promise.all(line.map(async (v) => ({ id: v.id, number: (await a.visitors.status(eventId, v.id)).number! })));
    const byNumber = order.sort((x, y) => x.number - y.number).map((o) => o.id);

    // Steps of 130 ms: rounds keep the fraction left over, so totals follow floor(rate * elapsed).
    for (let step = 1; step <= 60; step++) {
      clock = salesStart + step * 130;
      await Promise.all([a.tick(), b.tick(), b.tick(), a.tick()]);
      const expected = Math.min(line.length, Math.floor(((step * 130) / 1000) * perSecond));
      const admitted = await redis.client.zrange(admittedKey!, 0, -1);
      expect(admitted.length, `after ${step * 130} ms`).toBe(expected);
      expect(Number(await redis.client.hget(stateKey!, 'through'))).toBe(expected);
      // From the head of the line, in order.
      expect(new Set(admitted)).toEqual(new Set(byNumber.slice(0, expected)));
    }
  });

  it('an admitted visitor who places no hold within the window loses the turn, and may join again at the back', async () => {
    clock = salesStart;
    const metrics = createMetrics();
    const eventId = await roomEvent(db.sql, organizer.id, salesStart - 1_000, 2);
    const room = node({ metrics });
    const [holder, idler, third, fourth] = visitors.slice(0, 4);
    for (const v of [holder!, idler!, third!, fourth!]) await room.visitors.join(eventId, v.id);
    clock = salesStart + 1_000;
    await room.tick(); // admits holder and idler
    const admission = await room.visitors.status(eventId, idler!.id);
    expect(admission.state).toBe('admitted');
    const expiresAt = admission.expiresAt!.getTime();
    expect(expiresAt).toBe(Math.floor((clock + WINDOW_SECONDS * 1000) / 1000) * 1000);

    // The holder's token passes the gate, and the hold is recorded as the use of the turn.
    const holderToken = (await room.visitors.status(eventId, holder!.id)).admissionToken!;
    await expect(room.gate.check(eventId, holder!.id, holderToken)).resolves.toBe(true);
    await room.gate.used(eventId, holder!.id);

    clock = expiresAt - 1;
    expect((await room.visitors.status(eventId, idler!.id)).state).toBe('admitted');
    clock = expiresAt;
    await expect(room.gate.check(eventId, idler!.id, admission.admissionToken!)).rejects.toMatchObject({ code: 'admission_required', details: { reason: 'expired' } });
    await room.tick(); // lapses both admissions (admitting the next two as well)
    expect((await room.visitors.status(eventId, idler!.id)).state).toBe('expired');
    expect((await room.visitors.status(eventId, holder!.id)).state).toBe('none');
    expect((await metrics.registry.getSingleMetric('boxoffice_waiting_room_expired_without_hold_total')!.get()).values[0]!.value).toBe(1);
    expect((await metrics.registry.getSingleMetric('boxoffice_waiting_room_admitted_total')!.get()).values[0]!.value).toBe(4);

    const rejoined = await room.visitors.join(eventId, idler!.id);
    expect(rejoined).toMatchObject({ state: 'waiting', number: 5, position: 1, admittedThrough: 4 });
    expect((await metrics.registry.getSingleMetric('boxoffice_waiting_room_waiting')!.get()).values[0]!.value).toBeGreaterThanOrEqual(1);
  });

  it('events without a room let holds through; a room switched off is dropped by the next round', async () => {
    clock = salesStart;
    const open = await roomEvent(db.sql, organizer.id, salesStart, null, false);
    const room = node();
    expect(await room.visitors.join(open, visitors[0]!.id)).toMatchObject({ state: 'open', position: null, admissionToken: null });
    await expect(room.gate.check(open, visitors[0]!.id, undefined)).resolves.toBe(false);

    const eventId = await roomEvent(db.sql, organizer.id, salesStart, null);
    await room.visitors.join(eventId, visitors[0]!.id);
    await expect(room.gate.check(eventId, visitors[0]!.id, undefined)).rejects.toMatchObject({ code: 'admission_required', details: { reason: 'missing' } });
    await db.sql`update events set waiting_room = false where id = ${eventId}`;
    const fresh = node(); // a node that has not read the event yet (settings are kept for a second)
    await fresh.tick();
    expect(await redis.client.exists(...roomKeys(redis.prefix, eventId))).toBe(0);
    expect(await redis.client.sismember(`${redis.prefix}:waiting-rooms`, eventId)).toBe(0);
    await expect(fresh.gate.check(eventId, visitors[0]!.id, undefined)).resolves.toBe(false);

    await expect(room.visitors.join(randomUUID(), visitors[0]!.id)).rejects.toMatchObject({ code: 'not_found' });
  });
});
