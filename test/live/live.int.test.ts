// Live availability over real sockets, two server instances sharing PostgreSQL and Redis (rooms
// cross nodes through the Redis Streams adapter): snapshots then versioned updates, seat diffs,
// coalescing, changes whose node died before sending them, a buyer's own purchase updates, and bad
// clients refused without hurting others.
// (Seat states under interleaved changes on both nodes: seats-across-nodes.int.test.ts.)
import { randomUUID } from 'node:crypto';
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AvailabilityView } from '../../clients/sdk/availability-view.ts';
import { createInventory } from '../../server/inventory/index.ts';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '../helpers/databases.ts';
import { assertPromises, buy, people, saleEvent, settled, type Person } from '../helpers/purchases.ts';
import { call, startTestServer, type TestServer } from '../helpers/server.ts';

interface Snapshot {
  eventId: string;
  version: number;
  counts: Record<string, number>;
  seats: { held: string[]; sold: string[] };
  error?: { code: string };
}
interface Update {
  eventId: string;
  version: number;
  counts: Record<string, number>;
  seats: [string, number][];
}

const ENV = { RATE_LIMIT_PURCHASES_PER_USER_PER_MINUTE: '1000', RATE_LIMIT_GLOBAL_PER_MINUTE: '100000', LIVE_INTERVAL_MS: '50' };

function open(server: TestServer, options: { token?: string; origin?: string } = {}): Promise<Socket> {
  const socket = connect(server.url, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    ...(options.token ? { auth: { token: options.token } } : {}),
    ...(options.origin ? { extraHeaders: { origin: options.origin } } : {}),
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => reject(err));
  });
}

/** Watches an event; collects every update after the snapshot. */
async function watch(socket: Socket, eventId: string) {
  const updates: Update[] = [];
  socket.on('availability', (u: Update) => {
    if (u.eventId === eventId) updates.push(u);
  });
  const snapshot = (await socket.emitWithAck('watch', { eventId })) as Snapshot;
  return { snapshot, updates };
}

/** The view a client keeps (the web page's rule): the snapshot, then the updates in the order they came. */
function view(snapshot: Snapshot, updates: Update[]): AvailabilityView {
  const kept = new AvailabilityView();
  kept.applySnapshot(snapshot);
  for (const u of updates) kept.applyUpdate(u);
  return kept;
}

describe('live availability', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let a: TestServer;
  let b: TestServer;
  let organizer: Person;
  let buyers: Person[];
  const sockets: Socket[] = [];
  const track = (s: Socket) => (sockets.push(s), s);

  beforeAll(async () => {
    [db, redis] = await Promise.all([createTestDatabase(), createTestRedis()]);
    [a, b] = await Promise.all([startTestServer(db, redis, ENV), startTestServer(db, redis, ENV)]);
    const [organizers, customers] = await Promise.all([people(db.sql, 1, 'organizer'), people(db.sql, 30)]);
    organizer = organizers[0]!;
    buyers = customers;
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await Promise.all([a?.stop(), b?.stop()]);
    await Promise.all([db?.drop(), redis?.cleanup()]);
  });

  it('watchers on both nodes see counts drop and seats turn held then sold, every version once', async () => {
    const sale = await saleEvent(db.sql, organizer.id, { capacity: 10, seats: 6 });
    const onA = await watch(track(await open(a)), sale.eventId);
    const onB = await watch(track(await open(b)), sale.eventId);
    expect(onA.snapshot).toMatchObject({ eventId: sale.eventId, counts: { [sale.ga]: 10, [sale.seated]: 6 }, seats: { held: [], sold: [] } });

    const buyer = buyers[0]!;
    const seatIds = sale.seatIds.slice(0, 2);
    const started = Date.now();
    const res = await buy(a.api, buyer, { eventId: sale.eventId, items: [{ ticketTypeId: sale.seated, seatIds }, { ticketTypeId: sale.ga, quantity: 3 }] });
    expect(res.status).toBe(201);
    for (const watcher of [onA, onB]) {
      await expect.poll(() => view(watcher.snapshot, watcher.updates).counts, { timeout: 1_000, interval: 20 }).toEqual({ [sale.ga]: 7, [sale.seated]: 4 });
      expect(view(watcher.snapshot, watcher.updates).seats.get(seatIds[0]!)).toBe(1);
    }
    expect(Date.now() - started).toBeLessThan(1_500);

    const paymentId = (res.body['payment'] as { paymentId: string }).paymentId;
    await call(`${b.api}/sandbox/payments/${paymentId}/succeed`, { token: buyer.token, body: {} });
    await settled(db.sql, res.body.id, ['confirmed']);
    for (const watcher of [onA, onB]) {
      await expect.poll(() => view(watcher.snapshot, watcher.updates).seats.get(seatIds[1]!), { timeout: 1_000, interval: 20 }).toBe(2);
      // Each node sends its own updates, so they may come out of order; none twice, none lost.
      const versions = watcher.updates.map((u) => u.version);
      expect(new Set(versions).size).toBe(versions.length);
      await expect.poll(() => view(watcher.snapshot, watcher.updates).missing, { timeout: 1_000, interval: 20 }).toBe(0);
    }
    // A late watcher's snapshot agrees with what the others built from updates.
    const lateWatcher = await watch(track(await open(b)), sale.eventId);
    expect(lateWatcher.snapshot.counts).toEqual(view(onA.snapshot, onA.updates).counts);
    expect(lateWatcher.snapshot.seats.sold.sort()).toEqual([...seatIds].sort());
    await assertPromises(db.sql, redis, sale.eventId);
  });

  it('a change whose node died before telling anyone still reaches every watcher, from another node', async () => {
    const sale = await saleEvent(db.sql, organizer.id, { capacity: 10, seats: 4 });
    const watchers = [await watch(track(await open(a)), sale.eventId), await watch(track(await open(b)), sale.eventId)];
    // What a node does in Redis when it places a hold, without its live update (it died right after).
    const gone = createInventory(redis.client, redis.prefix);
    const seat = sale.seatIds[0]!;
    const held = await gone.hold({
      purchaseId: randomUUID(),
      eventId: sale.eventId,
      items: [{ ticketTypeId: sale.seated, quantity: 1, seatIds: [seat] }, { ticketTypeId: sale.ga, quantity: 2 }],
      deadline: new Date(Date.now() + 60_000),
      graceMs: 1_000,
    });
    expect(held.ok).toBe(true);
    for (const watcher of watchers) {
      await expect.poll(() => view(watcher.snapshot, watcher.updates).seats.get(seat), { timeout: 5_000, interval: 50 }).toBe(1);
      expect(view(watcher.snapshot, watcher.updates).counts).toEqual({ [sale.ga]: 8, [sale.seated]: 3 });
      expect(view(watcher.snapshot, watcher.updates).missing).toBe(0);
    }
  });

  it('coalesces a burst of holds into few messages that end on the true count', async () => {
    const sale = await saleEvent(db.sql, organizer.id, { capacity: 100 });
    const watcher = await watch(track(await open(a)), sale.eventId);
    await Promise.all(buyers.slice(1, 21).map((buyer, i) => buy(i % 2 ? a.api : b.api, buyer, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ga, quantity: 1 }] })));
    await expect.poll(() => view(watcher.snapshot, watcher.updates).counts[sale.ga], { timeout: 1_000, interval: 20 }).toBe(80);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(watcher.updates.length).toBeLessThan(20);
    expect(watcher.updates.at(-1)!.counts[sale.ga]).toBe(80);
  });

  it('pushes a buyer their own purchase states, and nobody else', async () => {
    const sale = await saleEvent(db.sql, organizer.id, { capacity: 5 });
    const buyer = buyers[22]!;
    const mine = track(await open(b, { token: buyer.token }));
    const other = track(await open(b, { token: buyers[23]!.token }));
    const seen: { purchaseId: string; state: string }[] = [];
    const leaked: unknown[] = [];
    mine.on('purchase', (u: { purchaseId: string; state: string }) => seen.push(u));
    other.on('purchase', (u: unknown) => leaked.push(u));
    const res = await buy(a.api, buyer, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ga, quantity: 1 }] });
    await expect.poll(() => seen.map((u) => u.state), { timeout: 1_000 }).toEqual(['reserving', 'held', 'paying']);
    await call(`${a.api}/purchases/${res.body.id}/cancel`, { token: buyer.token, body: {} });
    await expect.poll(() => seen.at(-1)?.state, { timeout: 1_000 }).toBe('cancelled');
    expect(seen.every((u) => u.purchaseId === res.body.id)).toBe(true);
    expect(leaked).toEqual([]);
    await expect(open(a, { token: 'not-a-token' })).rejects.toThrow(/unauthorized/);
  });

  it('a dropped connection recovers its session and the updates it missed', async () => {
    const sale = await saleEvent(db.sql, organizer.id, { capacity: 10 });
    const socket = track(connect(a.url, { transports: ['websocket'], forceNew: true, reconnectionDelay: 100, reconnectionDelayMax: 200 }));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const watcher = await watch(socket, sale.eventId);
    // Socket.IO only offers recovery to sessions that have seen at least one packet with an offset.
    await buy(a.api, buyers[26]!, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ga, quantity: 1 }] });
    await expect.poll(() => view(watcher.snapshot, watcher.updates).counts[sale.ga], { timeout: 1_000 }).toBe(9);

    const reconnected = new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.io.engine.close(); // the network drops
    await buy(b.api, buyers[27]!, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ga, quantity: 2 }] });
    await reconnected;
    expect(socket.recovered).toBe(true);
    await expect.poll(() => view(watcher.snapshot, watcher.updates).counts[sale.ga], { timeout: 2_000 }).toBe(7);
  });

  it('answers bad clients with an error or a disconnect, and nobody else notices', async () => {
    const sale = await saleEvent(db.sql, organizer.id, { capacity: 5 });
    const bystander = await watch(track(await open(a)), sale.eventId);
    const client = track(await open(a));
    expect(((await client.emitWithAck('watch', { eventId: randomUUID() })) as Snapshot).error?.code).toBe('not_found');
    expect(((await client.emitWithAck('watch', { eventId: 'nope' })) as Snapshot).error?.code).toBe('validation_failed');
    expect(((await client.emitWithAck('watch', { eventId: sale.eventId, extra: 1 })) as Snapshot).error?.code).toBe('validation_failed');
    for (let i = 0; i < 10; i++) await client.emitWithAck('watch', { eventId: (await saleEvent(db.sql, organizer.id, { capacity: 1 })).eventId });
    const extra = await saleEvent(db.sql, organizer.id, { capacity: 1 });
    expect(((await client.emitWithAck('watch', { eventId: extra.eventId })) as Snapshot).error?.code).toBe('conflict');

    // Oversized payload: that client is cut off.
    const big = track(await open(a));
    const cut = new Promise((resolve) => big.once('disconnect', resolve));
    big.emit('watch', { eventId: 'x'.repeat(10_000) });
    await cut;

    // A flood of watch/unwatch: rate limited, then disconnected.
    const flood = track(await open(b));
    const errors: { code: string }[] = [];
    flood.on('live_error', (e: { code: string }) => errors.push(e));
    const floodCut = new Promise((resolve) => flood.once('disconnect', resolve));
    for (let i = 0; i < 60; i++) flood.emit(i % 2 ? 'unwatch' : 'watch', { eventId: sale.eventId });
    await floodCut;
    expect(errors.map((e) => e.code)).toContain('rate_limited');

    // An origin outside the allowlist is refused at the handshake.
    await expect(open(a, { origin: 'https://evil.example' })).rejects.toThrow();

    // The bystander still gets its updates.
    await buy(b.api, buyers[25]!, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ga, quantity: 2 }] });
    await expect.poll(() => view(bystander.snapshot, bystander.updates).counts[sale.ga], { timeout: 1_000 }).toBe(3);
  });
});
