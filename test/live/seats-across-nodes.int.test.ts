// Live seat states with two nodes: each node coalesces and sends its own updates for one event, so
// watchers get them out of the order of the changes (one node sends often, the other seldom, as
// when their audiences differ). Seats are held, released and sold on both nodes, interleaved; once
// the sale has settled every watcher, on either node, must show exactly the seat map and the counts
// that PostgreSQL and Redis hold, having received every version.
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AvailabilityView, type AvailabilitySnapshot, type AvailabilityUpdate } from '../../clients/sdk/availability-view.ts';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '../helpers/databases.ts';
import { assertPromises, buy, people, saleEvent, settled, type Person, type Sale } from '../helpers/purchases.ts';
import { call, startTestServer, type TestServer } from '../helpers/server.ts';

const ENV = { RATE_LIMIT_PURCHASES_PER_USER_PER_MINUTE: '1000', RATE_LIMIT_GLOBAL_PER_MINUTE: '100000' };
/** How long, at most, the watchers get to show the settled sale (they normally need well under a second). */
const CONVERGE_MS = 15_000;

interface Truth {
  counts: Record<string, number>;
  /** seat id -> 1 held, 2 sold (free seats absent) */
  seats: Record<string, number>;
}

/** A watcher as the web page keeps one: the shared client rule over a real socket. */
class Watcher {
  readonly view = new AvailabilityView();
  resyncs = 0;
  #listeners = new Set<() => void>();

  private constructor(
    readonly socket: Socket,
    readonly eventId: string,
    readonly node: string,
  ) {
    socket.on('availability', (u: AvailabilityUpdate & { eventId: string }) => {
      if (u.eventId !== eventId) return;
      this.view.applyUpdate(u);
      // As the web page does: a version that never came is made up for by a fresh snapshot.
      if (this.view.resyncDue()) {
        this.resyncs++;
        void this.sync();
      }
      for (const listener of this.#listeners) listener();
    });
  }

  async sync(): Promise<void> {
    const snapshot = (await this.socket.emitWithAck('watch', { eventId: this.eventId })) as AvailabilitySnapshot & { error?: unknown };
    expect(snapshot.error).toBeUndefined();
    this.view.applySnapshot(snapshot);
    for (const listener of this.#listeners) listener();
  }

  static async open(server: TestServer, node: string, eventId: string): Promise<Watcher> {
    const socket = connect(server.url, { transports: ['websocket'], reconnection: false, forceNew: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    const watcher = new Watcher(socket, eventId, node);
    await watcher.sync();
    return watcher;
  }

  shown(): Truth {
    return { counts: { ...this.view.counts }, seats: Object.fromEntries([...this.view.seats].sort(([a], [b]) => a.localeCompare(b))) };
  }

  /** Resolves once `done()` holds, checked now and after every update; gives up after `ms`. */
  until(done: () => boolean, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (!done()) return;
        finish();
      };
      const finish = () => {
        clearTimeout(timer);
        this.#listeners.delete(check);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.#listeners.add(check);
      check();
    });
  }
}

/** The truth once the sale settled: the public seat map (PostgreSQL) and the counts in Redis. */
async function truthOf(server: TestServer, sale: Sale): Promise<Truth> {
  const res = await call<{ sections: { rows: { seats: [string, string, number, number][] }[] }[] }>(`${server.api}/events/${sale.eventId}/seat-map`);
  expect(res.status).toBe(200);
  const seats: Record<string, number> = {};
  for (const section of res.body.sections) {
    for (const row of section.rows) for (const [id, , , state] of row.seats) if (state === 1 || state === 2) seats[id] = state;
  }
  const available = await server.server.purchases.inventory.available(sale.eventId, [sale.ga, sale.seated]);
  return { counts: { [sale.ga]: available[sale.ga]!, [sale.seated]: available[sale.seated]! }, seats: Object.fromEntries(Object.entries(seats).sort(([a], [b]) => a.localeCompare(b))) };
}

describe('live seat states across nodes', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  /** Sends seldom (long coalescing interval): its updates come after the other node's newer ones. */
  let slow: TestServer;
  let fast: TestServer;
  let organizer: Person;
  let buyers: Person[];
  const watchers: Watcher[] = [];

  beforeAll(async () => {
    [db, redis] = await Promise.all([createTestDatabase(), createTestRedis()]);
    [slow, fast] = await Promise.all([startTestServer(db, redis, { ...ENV, LIVE_INTERVAL_MS: '1500' }), startTestServer(db, redis, { ...ENV, LIVE_INTERVAL_MS: '20' })]);
    const [organizers, customers] = await Promise.all([people(db.sql, 1, 'organizer'), people(db.sql, 60)]);
    organizer = organizers[0]!;
    buyers = customers;
  });
  afterAll(async () => {
    for (const w of watchers) w.socket.disconnect();
    await Promise.all([slow?.stop(), fast?.stop()]);
    await Promise.all([db?.drop(), redis?.cleanup()]);
  });

  it('every watcher on either node ends on the true seat map and counts after holds, releases and sales on both nodes', async () => {
    const SEATS = 24;
    const sale = await saleEvent(db.sql, organizer.id, { capacity: 100, seats: SEATS });
    for (const [node, name] of [[slow, 'slow'], [fast, 'fast'], [slow, 'slow'], [fast, 'fast']] as const) watchers.push(await Watcher.open(node, name, sale.eventId));
    let nextBuyer = 0;
    const buyer = () => buyers[nextBuyer++]!;

    /** Holds the seat (and one standing ticket) through `node`; the purchase is then paying. */
    const hold = async (node: TestServer, who: Person, seatId: string) => {
      const res = await buy(node.api, who, { eventId: sale.eventId, items: [{ ticketTypeId: sale.seated, seatIds: [seatId] }, { ticketTypeId: sale.ga, quantity: 1 }] });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return { id: res.body.id, paymentId: (res.body['payment'] as { paymentId: string }).paymentId };
    };
    const cancel = async (node: TestServer, who: Person, purchase: { id: string }) => {
      expect((await call(`${node.api}/purchases/${purchase.id}/cancel`, { token: who.token, body: {} })).status).toBe(200);
      await settled(db.sql, purchase.id, ['cancelled']);
    };
    const pay = async (node: TestServer, who: Person, purchase: { id: string; paymentId: string }) => {
      expect((await call(`${node.api}/sandbox/payments/${purchase.paymentId}/succeed`, { token: who.token, body: {} })).status).toBe(200);
      await settled(db.sql, purchase.id, ['confirmed']);
    };

    // Each seat's story crosses the nodes: held on one, released or paid on the other, again.
    const stories = [
      async (seat: string) => {
        const who = buyer();
        await cancel(fast, who, await hold(slow, who, seat));
      },
      async (seat: string) => {
        const [first, second] = [buyer(), buyer()];
        await cancel(slow, first, await hold(fast, first, seat));
        await cancel(fast, second, await hold(slow, second, seat));
      },
      async (seat: string) => {
        const who = buyer();
        await pay(fast, who, await hold(slow, who, seat));
      },
      async (seat: string) => {
        const [first, second] = [buyer(), buyer()];
        await cancel(fast, first, await hold(slow, first, seat));
        await pay(slow, second, await hold(fast, second, seat));
      },
    ];
    const rounds = [sale.seatIds.slice(0, SEATS / 2), sale.seatIds.slice(SEATS / 2)];
    await Promise.all(rounds[0]!.map((seat, i) => stories[i % stories.length]!(seat)));
    // A watcher arriving mid-sale (its first updates may come before its snapshot).
    const [late] = await Promise.all([Watcher.open(fast, 'fast', sale.eventId), ...rounds[1]!.map((seat, i) => stories[i % stories.length]!(seat))]);
    watchers.push(late);

    const truth = await truthOf(fast, sale);
    // Half the seats' stories end sold, the others free; nothing stays held; one standing ticket per sale.
    expect(Object.values(truth.seats).filter((s) => s === 2)).toHaveLength(SEATS / 2);
    expect(Object.values(truth.seats).filter((s) => s === 1)).toHaveLength(0);
    expect(truth.counts).toEqual({ [sale.ga]: 100 - SEATS / 2, [sale.seated]: SEATS / 2 });

    const same = (w: Watcher) => JSON.stringify(w.shown()) === JSON.stringify(truth) && w.view.missing === 0;
    await Promise.all(watchers.map((w) => w.until(() => same(w), CONVERGE_MS)));
    for (const [i, w] of watchers.entries()) {
      expect(w.shown(), `watcher ${i + 1} (on the ${w.node} node)`).toEqual(truth);
      expect(w.view.missing, `versions watcher ${i + 1} never got`).toBe(0);
    }
    await assertPromises(db.sql, redis, sale.eventId);
  });
});
