// The cut a live message carries, against a real Redis and the real inventory scripts: versions
// only grow and are shared by every connection (node), counts and seat states are the inventory's
// as they stand, and reading the current version advances nothing; each change the inventory
// scripts make is recorded and taken by the next cut, whichever node takes it; a lost version
// starts again above the old ones.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRedis, type TestRedis } from '../../test/helpers/databases.ts';
import { createInventory } from '../inventory/index.ts';
import { connectRedis, createRedis, type Redis } from '../store/index.ts';
import { availabilityCuts, seatStateIndex } from './availability-cut.ts';

describe('availability cuts', () => {
  let space: TestRedis;
  let other: Redis;

  beforeAll(async () => {
    space = await createTestRedis();
    other = await connectRedis(createRedis({ url: space.url, name: 'boxoffice-test-b' }));
  });
  afterAll(async () => {
    await other?.quit();
    await space?.cleanup();
  });

  it('reads counts and seat states with a version every node shares', async () => {
    const eventId = randomUUID();
    const [ga, seated] = [randomUUID(), randomUUID()];
    const inventory = createInventory(space.client, space.prefix);
    await inventory.setAvailable(eventId, { [ga]: 10, [seated]: 3 });
    const deadline = new Date(Date.now() + 60_000);
    const buyer = randomUUID();
    const held = await inventory.hold({ purchaseId: buyer, eventId, items: [{ ticketTypeId: seated, quantity: 2, seatIds: ['s1', 's2'] }, { ticketTypeId: ga, quantity: 4 }], deadline, graceMs: 1_000 });
    expect(held.ok).toBe(true);
    await inventory.convert({ purchaseId: buyer, eventId, items: [{ ticketTypeId: seated, quantity: 1, seatIds: ['s2'] }], token: held.ok ? held.token : '' });

    const onA = availabilityCuts(space.client, space.prefix);
    const onB = availabilityCuts(other, space.prefix);
    // A version starts at the clock (ms), so one lost with a flushed Redis comes back higher.
    const before = Date.now();
    const base = await onA.current(eventId, [ga, seated]);
    expect(base).toMatchObject({ counts: { [ga]: 6, [seated]: 1 }, seats: [] });
    expect(base.version).toBeGreaterThanOrEqual(before);
    expect(await onB.current(eventId, [])).toMatchObject({ version: base.version });
    // The hold and the conversion recorded their changes: the next cut takes those seats too.
    const first = await onA.next(eventId, [ga, seated], ['s3']);
    expect(first.version).toBe(base.version + 1);
    expect(first.counts).toEqual({ [ga]: 6, [seated]: 1 });
    expect(first.seats.sort()).toEqual([['s1', 1], ['s2', 2], ['s3', 0]]);
    // Taken once: the next cut names only what it is given.
    expect((await onB.next(eventId, [], [])).seats).toEqual([]);
    // Two nodes at once: one sequence, no version twice.
    const versions = (await Promise.all([...Array(10).keys()].map((i) => (i % 2 ? onA : onB).next(eventId, [], ['s3'])))).map((c) => c.version);
    expect(versions.sort((x, y) => x - y)).toEqual([...Array(10).keys()].map((i) => base.version + 3 + i));
    expect(await onB.version(eventId)).toBe(base.version + 12);

    // Redis lost everything: the version starts again from the clock, above every old one (these
    // twelve versions came within a few ms; a sale's grow far slower than one per ms).
    await new Promise((resolve) => setTimeout(resolve, 20));
    const flushedAt = Date.now();
    await space.client.del(`${space.prefix}:{ev:${eventId}}:live-version`);
    const again = await onB.next(eventId, [], []);
    expect(again.version).toBeGreaterThan(base.version + 12);
    expect(again.version).toBeGreaterThan(flushedAt);
    // A ticket type Redis has no count for reads as null (the caller rebuilds it).
    const unknown = randomUUID();
    expect((await onB.current(eventId, [unknown])).counts).toEqual({ [unknown]: null });
  });

  it('names seat states from the inventory\'s seat keys', () => {
    expect([null, 'some-purchase', 'sold:some-purchase'].map(seatStateIndex)).toEqual([0, 1, 2]);
  });
});
