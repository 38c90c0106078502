// Holds against a real Redis, raced from two connections as two nodes would: general admission
// never goes below zero, seats are claimed all or none and never twice, releases are idempotent
// and refuse a stale token, and an event's keys share one cluster slot.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis, createRedis, type Redis } from '../store/index.ts';
import { createTestRedis, type TestRedis } from '../../test/helpers/databases.ts';
import { createInventory, inventoryKeys, type Inventory } from './inventory.ts';

const future = () => new Date(Date.now() + 60_000);

/** Redis Cluster's slot of a key (CRC16/XMODEM of the hash tag, mod 16384). */
function clusterSlot(key: string): number {
  const open = key.indexOf('{');
  const close = key.indexOf('}', open + 1);
  const hashed = open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key;
  let crc = 0;
  for (const byte of Buffer.from(hashed)) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

describe('inventory', () => {
  let space: TestRedis;
  let nodeB: Redis;
  let a: Inventory;
  let b: Inventory;

  beforeAll(async () => {
    space = await createTestRedis();
    nodeB = await connectRedis(createRedis({ url: space.url }));
    a = createInventory(space.client, space.prefix);
    b = createInventory(nodeB, space.prefix);
  });
  afterAll(async () => {
    await nodeB.quit();
    await space.cleanup();
  });

  it('1,000 concurrent holds from two nodes for 100 tickets: exactly 100 held, never below zero', async () => {
    const eventId = randomUUID();
    const ga = randomUUID();
    await a.setAvailable(eventId, { [ga]: 100 });
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        (i % 2 ? a : b).hold({ purchaseId: randomUUID(), eventId, items: [{ ticketTypeId: ga, quantity: 1 }], deadline: future(), graceMs: 60_000 }),
      ),
    );
    const held = results.filter((r) => r.ok);
    expect(held).toHaveLength(100);
    expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.reason === 'sold_out')).toBe(true);
    expect((await a.available(eventId, [ga]))[ga]).toBe(0);
    // Every hold has its own, growing fencing token.
    const tokens = held.map((r) => (r.ok ? Number(r.token) : 0));
    expect(new Set(tokens).size).toBe(100);
  });

  it('multi-unit holds are all or nothing', async () => {
    const eventId = randomUUID();
    const [x, y] = [randomUUID(), randomUUID()];
    await a.setAvailable(eventId, { [x]: 5, [y]: 1 });
    const refused = await a.hold({ purchaseId: randomUUID(), eventId, items: [{ ticketTypeId: x, quantity: 2 }, { ticketTypeId: y, quantity: 2 }], deadline: future(), graceMs: 1000 });
    expect(refused).toEqual({ ok: false, reason: 'sold_out', ticketTypeId: y });
    expect(await a.available(eventId, [x, y])).toEqual({ [x]: 5, [y]: 1 });
  });

  it('300 concurrent requests for overlapping seats: no seat held twice, each request all or none', async () => {
    const eventId = randomUUID();
    const seated = randomUUID();
    const seats = Array.from({ length: 60 }, (_, i) => String(1000 + i));
    await a.setAvailable(eventId, { [seated]: seats.length });
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const requests = Array.from({ length: 300 }, () => {
      const start = Math.floor(random() * (seats.length - 4));
      const wanted = seats.slice(start, start + 1 + Math.floor(random() * 4));
      return { purchaseId: randomUUID(), seatIds: wanted };
    });
    const results = await Promise.all(
      requests.map((r, i) =>
        (i % 2 ? a : b).hold({
          purchaseId: r.purchaseId,
          eventId,
          items: [{ ticketTypeId: seated, quantity: r.seatIds.length, seatIds: r.seatIds }],
          deadline: future(),
          graceMs: 60_000,
        }),
      ),
    );
    const owners = await a.seatOwners(eventId, seats);
    const ownerOf = new Map(seats.map((s, i) => [s, owners[i]]));
    let heldSeats = 0;
    requests.forEach((request, i) => {
      const got = results[i]!;
      const mine = request.seatIds.filter((s) => ownerOf.get(s) === request.purchaseId).length;
      if (got.ok) {
        expect(mine).toBe(request.seatIds.length);
        heldSeats += mine;
      } else {
        expect(mine).toBe(0);
        expect(got.reason).toBe('seat_taken');
      }
    });
    expect(heldSeats).toBe(owners.filter((o) => o !== null).length);
    expect((await a.available(eventId, [seated]))[seated]).toBe(seats.length - heldSeats);
    expect(results.filter((r) => r.ok).length).toBeGreaterThan(0);
  });

  it('a retried hold returns the same token and takes nothing twice', async () => {
    const eventId = randomUUID();
    const ga = randomUUID();
    await a.setAvailable(eventId, { [ga]: 10 });
    const request = { purchaseId: randomUUID(), eventId, items: [{ ticketTypeId: ga, quantity: 3 }], deadline: future(), graceMs: 1000 };
    const first = await a.hold(request);
    const again = await b.hold(request);
    expect(first.ok && again.ok && again.token === first.token && again.retried).toBe(true);
    expect((await a.available(eventId, [ga]))[ga]).toBe(7);
  });

  it('release gives everything back once, and refuses a stale token', async () => {
    const eventId = randomUUID();
    const ga = randomUUID();
    const seated = randomUUID();
    await a.setAvailable(eventId, { [ga]: 4, [seated]: 2 });
    const purchaseId = randomUUID();
    const items = [{ ticketTypeId: ga, quantity: 2 }, { ticketTypeId: seated, quantity: 2, seatIds: ['s1', 's2'] }];
    const held = await a.hold({ purchaseId, eventId, items, deadline: future(), graceMs: 1000 });
    if (!held.ok) throw new Error('expected a hold');
    expect(await a.holdStatus(eventId, purchaseId, held.token)).toBe('live');
    expect(await a.holdStatus(eventId, purchaseId, `${held.token}0`)).toBe('stale');

    expect(await a.release({ purchaseId, eventId, items, token: String(Number(held.token) + 99) })).toBe('stale_token');
    expect(await a.available(eventId, [ga, seated])).toEqual({ [ga]: 2, [seated]: 0 });

    expect(await b.release({ purchaseId, eventId, items, token: held.token })).toBe('released');
    expect(await a.release({ purchaseId, eventId, items, token: held.token })).toBe('nothing_held');
    expect(await a.available(eventId, [ga, seated])).toEqual({ [ga]: 4, [seated]: 2 });
    expect(await a.seatOwners(eventId, ['s1', 's2'])).toEqual([null, null]);
    expect(await a.holdStatus(eventId, purchaseId, held.token)).toBe('missing');

    // The seats can be held again, with a larger fencing token.
    const next = await a.hold({ purchaseId: randomUUID(), eventId, items, deadline: future(), graceMs: 1000 });
    expect(next.ok && Number(next.token) > Number(held.token)).toBe(true);
  });

  it('a reclaim replaces the released hold still on record, so its late release gives nothing back', async () => {
    const eventId = randomUUID();
    const ga = randomUUID();
    const seated = randomUUID();
    await a.setAvailable(eventId, { [ga]: 5, [seated]: 2 });
    const purchaseId = randomUUID();
    const items = [{ ticketTypeId: ga, quantity: 2 }, { ticketTypeId: seated, quantity: 1, seatIds: ['s1'] }];
    const old = await a.hold({ purchaseId, eventId, items, deadline: future(), graceMs: 1000 });
    if (!old.ok) throw new Error('expected a hold');
    // The purchase expired (its release is queued), then a late payment claims the units again.
    const reclaim = { purchaseId, eventId, items, deadline: future(), graceMs: 1000, replacing: old.token };
    const again = await b.hold(reclaim);
    if (!again.ok) throw new Error('expected the reclaim to hold');
    expect(again.retried).toBe(false);
    expect(Number(again.token)).toBeGreaterThan(Number(old.token));
    expect(await a.available(eventId, [ga, seated])).toEqual({ [ga]: 3, [seated]: 1 });
    expect(await a.seatOwners(eventId, ['s1'])).toEqual([purchaseId]);
    // The reclaim retried (or run twice at once) adopts its own hold: nothing taken twice.
    const retried = await a.hold(reclaim);
    expect(retried.ok && retried.retried && retried.token === again.token).toBe(true);
    expect(await a.available(eventId, [ga, seated])).toEqual({ [ga]: 3, [seated]: 1 });

    // The old release arrives late: a stale token, nothing changes; the tickets take the units.
    expect(await a.release({ purchaseId, eventId, items, token: old.token })).toBe('stale_token');
    expect(await a.convert({ purchaseId, eventId, items, token: again.token })).toBe('converted');
    expect(await a.available(eventId, [ga, seated])).toEqual({ [ga]: 3, [seated]: 1 });
    expect(await a.release({ purchaseId, eventId, items, token: old.token })).toBe('nothing_held');
    expect(await a.available(eventId, [ga, seated])).toEqual({ [ga]: 3, [seated]: 1 });
  });

  it('a release later than the grace still gives the units back, once; the seats were freed at the grace', async () => {
    const eventId = randomUUID();
    const ga = randomUUID();
    const seated = randomUUID();
    await a.setAvailable(eventId, { [ga]: 3, [seated]: 2 });
    const purchaseId = randomUUID();
    const items = [{ ticketTypeId: ga, quantity: 2 }, { ticketTypeId: seated, quantity: 1, seatIds: ['g1'] }];
    const held = await a.hold({ purchaseId, eventId, items, deadline: new Date(Date.now() + 50), graceMs: 100 });
    if (!held.ok) throw new Error('expected a hold');
    // The release is late (nodes overloaded, Postgres away): past the deadline and the grace the
    // seat's safety net frees it, and another buyer takes it meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await a.seatOwners(eventId, ['g1'])).toEqual([null]);
    const other = randomUUID();
    const taken = await b.hold({ purchaseId: other, eventId, items: [{ ticketTypeId: seated, quantity: 1, seatIds: ['g1'] }], deadline: future(), graceMs: 1000 });
    expect(taken.ok).toBe(true);
    expect(await a.available(eventId, [ga, seated])).toEqual({ [ga]: 1, [seated]: 0 });

    expect(await a.release({ purchaseId, eventId, items, token: held.token })).toBe('released');
    expect(await a.available(eventId, [ga, seated])).toEqual({ [ga]: 3, [seated]: 1 });
    expect(await a.seatOwners(eventId, ['g1'])).toEqual([other]);
    expect(await b.release({ purchaseId, eventId, items, token: held.token })).toBe('nothing_held');
    expect(await a.available(eventId, [ga, seated])).toEqual({ [ga]: 3, [seated]: 1 });
  });

  it('converting a hold keeps its units taken and its seats blocked', async () => {
    const eventId = randomUUID();
    const seated = randomUUID();
    await a.setAvailable(eventId, { [seated]: 3 });
    const purchaseId = randomUUID();
    const items = [{ ticketTypeId: seated, quantity: 2, seatIds: ['c1', 'c2'] }];
    const held = await a.hold({ purchaseId, eventId, items, deadline: future(), graceMs: 1000 });
    if (!held.ok) throw new Error('expected a hold');
    expect(await a.convert({ purchaseId, eventId, items, token: held.token })).toBe('converted');
    expect(await a.convert({ purchaseId, eventId, items, token: held.token })).toBe('nothing_held');
    expect(await a.release({ purchaseId, eventId, items, token: held.token })).toBe('nothing_held');
    expect((await a.available(eventId, [seated]))[seated]).toBe(1);
    expect(await a.seatOwners(eventId, ['c1', 'c2'])).toEqual([`sold:${purchaseId}`, `sold:${purchaseId}`]);
    const again = await b.hold({
      purchaseId: randomUUID(),
      eventId,
      items: [{ ticketTypeId: seated, quantity: 1, seatIds: ['c2'] }],
      deadline: future(),
      graceMs: 1000,
    });
    expect(again).toEqual({ ok: false, reason: 'seat_taken', seatId: 'c2' });
  });

  it('refuses ticket types that were never put on sale', async () => {
    const eventId = randomUUID();
    const ga = randomUUID();
    const res = await a.hold({ purchaseId: randomUUID(), eventId, items: [{ ticketTypeId: ga, quantity: 1 }], deadline: future(), graceMs: 1000 });
    expect(res).toEqual({ ok: false, reason: 'not_on_sale', ticketTypeId: ga });
  });

  it('keeps every key of an event in one cluster slot', () => {
    const k = inventoryKeys('bo', 'f3c1a4e2-0000-4000-8000-000000000001');
    const slots = new Set([k.hold('p1'), k.fence(), k.available('t1'), k.available('t2'), k.seat('42')].map(clusterSlot));
    expect(slots.size).toBe(1);
    expect(clusterSlot('123456789')).toBe(12739); // the reference vector of the cluster spec
  });
});
