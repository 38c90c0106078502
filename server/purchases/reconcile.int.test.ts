// Rebuilding an event's inventory after Redis lost it (a flush), against real Postgres and Redis:
// the counts, the sold seats and the live holds come back, and the holds come back as holds their
// purchases can still end — an expiry or a cancellation after the rebuild frees the seats and
// gives the units back, and a purchase that ended while the rebuild was under way leaves nothing
// held behind.
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PurchaseItem } from '../../machines/index.ts';
import { createInventory, inventoryKeys, type Inventory } from '../inventory/index.ts';
import { createTestDatabase, createTestRedis, deleteKeysUnder, type TestDatabase, type TestRedis } from '../../test/helpers/databases.ts';
import { saleEvent } from '../../test/helpers/purchases.ts';
import { createEffectRunner } from './effects.ts';
import { createPurchaseHost, type PurchaseHost } from './host.ts';
import { issueTickets } from './issue-tickets.ts';
import type { PaymentPort } from './payments-port.ts';
import { readEventInventory, rebuildAvailability, restoreEventInventory } from './reconcile.ts';

const payments: PaymentPort = {
  start: (request) => Promise.resolve({ paymentId: `pay_${request.purchaseId}` }),
  cancel: () => Promise.resolve('cancelled' as const),
  refund: () => Promise.resolve(),
};

describe('rebuilding an event inventory after Redis lost it', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let inventory: Inventory;
  let host: PurchaseHost;
  let customerId: string;

  beforeAll(async () => {
    [db, redis] = await Promise.all([createTestDatabase(), createTestRedis()]);
    inventory = createInventory(redis.client, redis.prefix);
    const log = pino({ level: process.env['TEST_LOG'] ?? 'silent' });
    const rebuildCounts = async (eventId: string) => void (await rebuildAvailability(db.sql, inventory, eventId, { onlyIfMissing: true }));
    host = createPurchaseHost({
      sql: db.sql,
      log,
      runEffect: createEffectRunner({ sql: db.sql, inventory, payments, log, holdTtlMs: 60_000, holdGraceMs: 10_000, rebuildCounts }),
    });
    const [user] = await db.sql<{ id: string }[]>`insert into users (email) values ('rebuild@example.com') returning id`;
    customerId = user!.id;
  });
  afterAll(async () => {
    await Promise.all([db.drop(), redis.cleanup()]);
  });

  /** An event on sale with no Redis counts yet (the first hold rebuilds them). */
  const onSale = (capacity: number, seats: number) => saleEvent(db.sql, customerId, { capacity, seats });

  async function hold(eventId: string, items: PurchaseItem[]): Promise<string> {
    const purchaseId = randomUUID();
    const started = await host.start({ purchaseId, eventId, customerId, items, amountMinor: 1000, currency: 'EUR', idempotencyKey: randomUUID(), requestHash: 'h' });
    expect(started.state).toBe('paying');
    return purchaseId;
  }
  const pay = (purchaseId: string) => host.deliver(purchaseId, { type: 'payment.succeeded', paymentId: `pay_${purchaseId}` });
  const expire = (purchaseId: string) => host.deliver(purchaseId, { type: 'hold.expired', now: Date.now() + 3_600_000 });
  const flush = () => deleteKeysUnder(redis.client, redis.prefix);
  const heldInRedis = (eventId: string, purchaseId: string) => redis.client.exists(inventoryKeys(redis.prefix, eventId).hold(purchaseId));

  it('puts holds back as holds: an expiry or a cancellation after the rebuild frees their seats and units', async () => {
    const sale = await onSale(5, 3);
    const seatHolder = await hold(sale.eventId, [{ ticketTypeId: sale.seated, quantity: 2, seatIds: sale.seatIds.slice(0, 2) }]);
    const gaHolder = await hold(sale.eventId, [{ ticketTypeId: sale.ga, quantity: 2 }]);
    const buyer = await hold(sale.eventId, [{ ticketTypeId: sale.seated, quantity: 1, seatIds: [sale.seatIds[2]!] }]);
    expect((await pay(buyer)).state).toBe('confirmed');
    const [before] = await db.sql<{ max: string }[]>`select max((snapshot->'context'->'hold'->>'token')::bigint)::text as max from purchases where event_id = ${sale.eventId}`;

    await flush();
    await rebuildAvailability(db.sql, inventory, sale.eventId, { onlyIfMissing: true });
    expect(await inventory.available(sale.eventId, [sale.ga, sale.seated])).toEqual({ [sale.ga]: 3, [sale.seated]: 0 });
    expect(await inventory.seatOwners(sale.eventId, sale.seatIds)).toEqual([seatHolder, seatHolder, `sold:${buyer}`]);
    expect(await heldInRedis(sale.eventId, seatHolder)).toBe(1);
    // Present now: a second rebuild (another node) puts nothing back twice.
    expect(await restoreEventInventory(db.sql, inventory, sale.eventId, await readEventInventory(db.sql, sale.eventId), { onlyIfMissing: true })).toEqual([]);

    // The purchases end after the rebuild: their releases find their holds.
    expect((await expire(seatHolder)).state).toBe('expired');
    expect((await host.deliver(gaHolder, { type: 'purchase.cancel' })).state).toBe('cancelled');
    expect(await inventory.seatOwners(sale.eventId, sale.seatIds)).toEqual([null, null, `sold:${buyer}`]);
    expect(await inventory.available(sale.eventId, [sale.ga, sale.seated])).toEqual({ [sale.ga]: 5, [sale.seated]: 2 });

    // Tokens go on growing from where they were.
    const next = await hold(sale.eventId, [{ ticketTypeId: sale.seated, quantity: 1, seatIds: [sale.seatIds[0]!] }]);
    const [row] = await db.sql<{ token: string }[]>`select snapshot->'context'->'hold'->>'token' as token from purchases where id = ${next}`;
    expect(Number(row!.token)).toBeGreaterThan(Number(before!.max));
  });

  it('a purchase that ends while a rebuild is under way leaves nothing held; a rebuild overtaken by another changes nothing', async () => {
    const sale = await onSale(4, 2);
    const leaver = await hold(sale.eventId, [{ ticketTypeId: sale.seated, quantity: 1, seatIds: [sale.seatIds[0]!] }]);
    const stayer = await hold(sale.eventId, [{ ticketTypeId: sale.ga, quantity: 2 }]);
    await flush();

    // The rebuild reads PostgreSQL; before it writes Redis, a purchase is cancelled (its release
    // finds no hold): the hold put back for it is released at once.
    const record = await readEventInventory(db.sql, sale.eventId);
    expect((await host.deliver(leaver, { type: 'purchase.cancel' })).state).toBe('cancelled');
    const restored = await restoreEventInventory(db.sql, inventory, sale.eventId, record, { onlyIfMissing: true });
    expect(restored.sort()).toEqual([leaver, stayer].sort());
    expect(await inventory.seatOwners(sale.eventId, sale.seatIds)).toEqual([null, null]);
    expect(await heldInRedis(sale.eventId, leaver)).toBe(0);
    expect(await inventory.available(sale.eventId, [sale.ga, sale.seated])).toEqual({ [sale.ga]: 2, [sale.seated]: 2 });

    // Lost again; a slow rebuild reads, then a payment rebuilds on its own and takes its units:
    // the slow one comes too late to change anything.
    const payer = await hold(sale.eventId, [{ ticketTypeId: sale.seated, quantity: 1, seatIds: [sale.seatIds[1]!] }]);
    await flush();
    const slow = await readEventInventory(db.sql, sale.eventId);
    expect((await pay(payer)).state).toBe('confirmed');
    expect(await restoreEventInventory(db.sql, inventory, sale.eventId, slow, { onlyIfMissing: true })).toEqual([]);
    expect(await inventory.seatOwners(sale.eventId, sale.seatIds)).toEqual([null, `sold:${payer}`]);
    expect(await inventory.available(sale.eventId, [sale.ga, sale.seated])).toEqual({ [sale.ga]: 2, [sale.seated]: 1 });
    expect((await expire(stayer)).state).toBe('expired');
    expect(await inventory.available(sale.eventId, [sale.ga, sale.seated])).toEqual({ [sale.ga]: 4, [sale.seated]: 1 });
  });

  it('a purchase whose tickets went in while a rebuild was under way keeps its units taken and its seat sold, holding nothing', async () => {
    const sale = await onSale(4, 2);
    const items = [{ ticketTypeId: sale.seated, quantity: 1, seatIds: [sale.seatIds[0]!] }, { ticketTypeId: sale.ga, quantity: 1 }];
    const buyer = await hold(sale.eventId, items);
    const [row] = await db.sql<{ token: string }[]>`select snapshot->'context'->'hold'->>'token' as token from purchases where id = ${buyer}`;
    await flush();
    // The rebuild reads; the buyer's tickets are committed (its state still says it is confirming),
    // and their conversion finds no hold; then the rebuild puts the hold back.
    const record = await readEventInventory(db.sql, sale.eventId);
    expect(await issueTickets(db.sql, inventory, { purchaseId: buyer, eventId: sale.eventId, holdToken: row!.token, items })).toEqual({ type: 'tickets.issued' });
    expect(await restoreEventInventory(db.sql, inventory, sale.eventId, record, { onlyIfMissing: true })).toEqual([buyer]);
    expect(await heldInRedis(sale.eventId, buyer)).toBe(0);
    expect(await inventory.seatOwners(sale.eventId, sale.seatIds)).toEqual([`sold:${buyer}`, null]);
    expect(await inventory.available(sale.eventId, [sale.ga, sale.seated])).toEqual({ [sale.ga]: 3, [sale.seated]: 1 });
    // The purchase then confirms on the tickets it has, taking nothing more.
    expect((await pay(buyer)).state).toBe('confirmed');
    expect(await inventory.available(sale.eventId, [sale.ga, sale.seated])).toEqual({ [sale.ga]: 3, [sale.seated]: 1 });
  });

  it('a paid purchase whose hold was lost and not put back takes its units from the count again, or is refunded if they are gone', async () => {
    const sale = await onSale(4, 2);
    const first = await hold(sale.eventId, [{ ticketTypeId: sale.ga, quantity: 2 }, { ticketTypeId: sale.seated, quantity: 1, seatIds: [sale.seatIds[0]!] }]);
    const second = await hold(sale.eventId, [{ ticketTypeId: sale.ga, quantity: 2 }]);
    // Redis lost both holds, and the counts came back without them: they were still reserving
    // when the rebuild read PostgreSQL, their holds placed just before the loss.
    await flush();
    await inventory.setAvailable(sale.eventId, { [sale.ga]: 4, [sale.seated]: 2 });
    const late = await hold(sale.eventId, [{ ticketTypeId: sale.ga, quantity: 2 }]);

    // Units are left: the first one's payment claims them again, then its tickets take them. (Its
    // first try claimed them and died before issuing: the retry adopts that claim, taking nothing twice.)
    const claimed = await inventory.hold({
      purchaseId: first,
      eventId: sale.eventId,
      items: [{ ticketTypeId: sale.ga, quantity: 2 }, { ticketTypeId: sale.seated, quantity: 1, seatIds: [sale.seatIds[0]!] }],
      deadline: new Date(Date.now() + 60_000),
      graceMs: 10_000,
    });
    expect(claimed.ok).toBe(true);
    expect((await pay(first)).state).toBe('confirmed');
    expect(await inventory.available(sale.eventId, [sale.ga, sale.seated])).toEqual({ [sale.ga]: 0, [sale.seated]: 1 });
    expect(await inventory.seatOwners(sale.eventId, [sale.seatIds[0]!])).toEqual([`sold:${first}`]);
    // None left for the second: refunded, never oversold; the one holding them pays and gets them.
    const refused = await pay(second);
    expect(refused.state).toBe('refunded');
    const [failure] = await db.sql<{ failure: string }[]>`select snapshot->'context'->>'failure' as failure from purchases where id = ${second}`;
    expect(failure!.failure).toBe('hold_lost');
    expect((await pay(late)).state).toBe('confirmed');
    const [ga] = await db.sql<{ sold: number; capacity: number }[]>`select sold, capacity from ticket_types where id = ${sale.ga}`;
    expect(ga).toEqual({ sold: 4, capacity: 4 });
    expect(await inventory.available(sale.eventId, [sale.ga, sale.seated])).toEqual({ [sale.ga]: 0, [sale.seated]: 1 });
  });

  it('a paid purchase whose hold was lost before the counts came back adopts the hold their rebuild puts back', async () => {
    const sale = await onSale(3, 1);
    const buyer = await hold(sale.eventId, [{ ticketTypeId: sale.ga, quantity: 2 }]);
    await flush();
    expect((await pay(buyer)).state).toBe('confirmed');
    expect(await inventory.available(sale.eventId, [sale.ga, sale.seated])).toEqual({ [sale.ga]: 1, [sale.seated]: 1 });
    expect(await heldInRedis(sale.eventId, buyer)).toBe(0);
  });
});
