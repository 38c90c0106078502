// The waiting room end to end: two server nodes over real PostgreSQL, Redis and sockets, their
// rooms on a clock the test drives (their timers run too, on the same clock, so whichever node
// runs a round, the outcome is the same). Organizers mark an event high-demand; visitors join
// before the on-sale instant (a lottery) and after it (arrival order); positions, admissions and
// lost turns are pushed over Socket.IO; a hold needs this account's token for this event.
import { randomUUID } from 'node:crypto';
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdmissionTokens } from '../../server/waiting-room/index.ts';
import { testConfig } from '../helpers/config.ts';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '../helpers/databases.ts';
import { people, saleEvent, type Person } from '../helpers/purchases.ts';
import { call, startTestServer, type TestServer } from '../helpers/server.ts';

interface Status {
  eventId: string;
  state: 'open' | 'waiting' | 'admitted' | 'expired' | 'none';
  position: number | null;
  number: number | null;
  admittedThrough: number;
  waiting: number;
  lottery: boolean;
  drawAt: string;
  admitPerSecond: number;
  estimatedWaitSeconds: number | null;
  admissionToken: string | null;
  expiresAt: string | null;
}
interface QueueUpdate {
  eventId: string;
  admittedThrough: number;
  lottery: boolean;
}
interface ErrorBody {
  error: { code: string; message: string; details?: { reason?: string; issues?: { path: string }[] } };
}

const ENV = {
  RATE_LIMIT_GLOBAL_PER_MINUTE: '100000',
  RATE_LIMIT_PURCHASES_PER_USER_PER_MINUTE: '1000',
  WAITING_ROOM_TICK_MS: '100',
  WAITING_ROOM_HOLD_WINDOW_SECONDS: '10',
};
const HOUR = 3600 * 1000;

function open(server: TestServer, token?: string): Promise<Socket> {
  const socket = connect(server.url, { transports: ['websocket'], reconnection: false, forceNew: true, ...(token ? { auth: { token } } : {}) });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => reject(err));
  });
}

describe('waiting room', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let a: TestServer;
  let b: TestServer;
  let organizer: Person;
  let buyers: Person[];
  const sockets: Socket[] = [];
  // The sale opened a minute ago by the wall clock (so the catalog sells), and the rooms' clock
  // starts before it: the test moves the rooms through the on-sale instant.
  const salesStart = Date.now() - 60_000;
  let clock = salesStart - 5_000;
  const nodes = () => [a, b];

  beforeAll(async () => {
    [db, redis] = await Promise.all([createTestDatabase(), createTestRedis()]);
    const options = { waitingRoomClock: () => clock };
    [a, b] = await Promise.all([startTestServer(db, redis, ENV, options), startTestServer(db, redis, ENV, options)]);
    [[organizer], buyers] = (await Promise.all([people(db.sql, 1, 'organizer'), people(db.sql, 30)])) as [[Person], Person[]];
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await Promise.all([a?.stop(), b?.stop()]);
    await Promise.all([db?.drop(), redis?.cleanup()]);
  });

  const round = () => Promise.all(nodes().map((n) => n.server.waitingRoom.tick()));
  const join = (who: Person, eventId: string, node = a) => call<Status & ErrorBody>(`${node.api}/events/${eventId}/waiting-room`, { method: 'POST', token: who.token });
  const status = (who: Person, eventId: string, node = b) => call<Status & ErrorBody>(`${node.api}/events/${eventId}/waiting-room`, { token: who.token });
  const hold = (who: Person, eventId: string, ticketTypeId: string, admissionToken?: string, node = a) =>
    call<ErrorBody & { id: string; state: string }>(`${node.api}/purchases`, {
      token: who.token,
      body: { eventId, items: [{ ticketTypeId, quantity: 1 }] },
      headers: { 'idempotency-key': randomUUID(), ...(admissionToken === undefined ? {} : { 'admission-token': admissionToken }) },
    });
  const purchasesOf = async (who: Person) => (await db.sql<{ n: number }[]>`select count(*)::int as n from purchases where customer_id = ${who.id}`)[0]!.n;

  /** An event made through the organizer API, published, with one standing ticket type. */
  async function highDemandEvent(body: Record<string, unknown> = {}) {
    const day = 24 * HOUR;
    const created = await call<{ id: string } & Record<string, unknown>>(`${a.api}/organizer/events`, {
      token: organizer.token,
      body: {
        title: 'The Big One',
        timezone: 'UTC',
        startsAt: new Date(Date.now() + 10 * day).toISOString(),
        endsAt: new Date(Date.now() + 10.2 * day).toISOString(),
        salesStartAt: new Date(salesStart).toISOString(),
        salesEndAt: new Date(Date.now() + 9 * day).toISOString(),
        highDemand: true,
        admitPerSecond: 2,
        ...body,
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const eventId = created.body.id;
    const type = await call<{ id: string }>(`${a.api}/organizer/events/${eventId}/ticket-types`, {
      token: organizer.token,
      body: { name: 'Standing', kind: 'general', priceMinor: 5000, currency: 'EUR', capacity: 100 },
    });
    expect(type.status, JSON.stringify(type.body)).toBe(201);
    expect((await call(`${a.api}/organizer/events/${eventId}/publish`, { token: organizer.token, body: {} })).status).toBe(200);
    return { eventId, ticketTypeId: type.body.id, created: created.body };
  }

  it('organizers mark events high-demand or force the room on or off; buyers see whether one is in force', async () => {
    const { eventId, created } = await highDemandEvent();
    expect(created).toMatchObject({ highDemand: true, waitingRoom: null, admitPerSecond: 2, waitingRoomInForce: true });
    const shown = await call<Record<string, unknown>>(`${b.api}/events/${eventId}`);
    expect(shown.body).toMatchObject({ highDemand: true, waitingRoomInForce: true });

    const patch = (body: unknown) => call<Record<string, unknown> & ErrorBody>(`${a.api}/organizer/events/${eventId}`, { method: 'PATCH', token: organizer.token, body });
    expect((await patch({ waitingRoom: false })).body).toMatchObject({ highDemand: true, waitingRoom: false, waitingRoomInForce: false });
    expect((await patch({ waitingRoom: null, admitPerSecond: null })).body).toMatchObject({ waitingRoom: null, admitPerSecond: null, waitingRoomInForce: true });
    expect((await patch({ highDemand: false })).body).toMatchObject({ highDemand: false, waitingRoomInForce: false });
    expect((await patch({ waitingRoom: true })).body).toMatchObject({ highDemand: false, waitingRoom: true, waitingRoomInForce: true });
    for (const bad of [{ admitPerSecond: 0 }, { admitPerSecond: 2001 }, { admitPerSecond: 1.5 }, { waitingRoom: 'yes' }, { highDemand: null }]) {
      const res = await patch(bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
    }
    const plain = await call<Record<string, unknown>>(`${a.api}/organizer/events`, {
      token: organizer.token,
      body: {
        title: 'Quiet night',
        timezone: 'UTC',
        startsAt: new Date(Date.now() + 30 * 24 * HOUR).toISOString(),
        endsAt: new Date(Date.now() + 30.1 * 24 * HOUR).toISOString(),
        salesStartAt: new Date(Date.now()).toISOString(),
        salesEndAt: new Date(Date.now() + 29 * 24 * HOUR).toISOString(),
      },
    });
    expect(plain.body).toMatchObject({ highDemand: false, waitingRoom: null, admitPerSecond: null, waitingRoomInForce: false });
  });

  it('a lottery before the on-sale instant, pushed positions, admissions with tokens, holds that need them, and turns lost', async () => {
    clock = salesStart - 5_000;
    const { eventId, ticketTypeId } = await highDemandEvent();
    const line = buyers.slice(0, 20);

    // Before the on-sale instant: everyone is in, nobody has a position yet.
    for (const [i, who] of line.entries()) {
      const res = await join(who, eventId, i % 2 ? a : b);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body).toMatchObject({ state: 'waiting', position: null, number: null, lottery: true, estimatedWaitSeconds: null, admissionToken: null });
      expect(new Date(res.body.drawAt).getTime()).toBe(salesStart);
    }
    expect((await join(line[0]!, eventId, b)).body).toMatchObject({ state: 'waiting', waiting: 20, lottery: true });

    // Every visitor watches their line, half on each node.
    const pushed = new Map<string, Status[]>();
    const moves: QueueUpdate[] = [];
    for (const [i, who] of line.entries()) {
      const socket = await open(i % 2 ? a : b, who.token);
      sockets.push(socket);
      pushed.set(who.id, []);
      socket.on('queueStatus', (s: Status) => pushed.get(who.id)!.push(s));
      if (i === 0) socket.on('queue', (u: QueueUpdate) => moves.push(u));
      const ack = (await socket.emitWithAck('watchQueue', { eventId })) as Status;
      expect(ack).toMatchObject({ eventId, state: 'waiting', position: null, lottery: true });
    }

    // The on-sale instant: the draw. Each visitor is told their number; the line is told it is drawn.
    clock = salesStart;
    await round();
    const latest = (who: Person) => pushed.get(who.id)!.at(-1);
    for (const who of line) await expect.poll(() => latest(who)?.number, { timeout: 5_000 }).toEqual(expect.any(Number));
    await expect.poll(() => moves.at(-1), { timeout: 5_000 }).toMatchObject({ eventId, admittedThrough: 0, lottery: false });
    const numbers = line.map((who) => latest(who)!.number!);
    expect([...numbers].sort((x, y) => x - y)).toEqual(line.map((_, i) => i + 1));
    expect(numbers).not.toEqual(line.map((_, i) => i + 1)); // arrival order: once in 20! (about 4e-19)
    const byNumber = (n: number) => line[numbers.indexOf(n)]!;
    for (const who of line) expect(latest(who)).toMatchObject({ state: 'waiting', position: latest(who)!.number, lottery: false });

    // A second later at 2 per second: numbers 1 and 2 are admitted, with their tokens; the line moves.
    clock = salesStart + 1_000;
    await round();
    const [first, second, third, fifth] = [byNumber(1), byNumber(2), byNumber(3), byNumber(5)];
    for (const who of [first, second]) await expect.poll(() => latest(who)?.state, { timeout: 5_000 }).toBe('admitted');
    await expect.poll(() => moves.at(-1)?.admittedThrough, { timeout: 5_000 }).toBe(2);
    const admission = latest(first)!;
    expect(admission).toMatchObject({ state: 'admitted', estimatedWaitSeconds: 0 });
    expect(admission.admissionToken).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const secondToken = latest(second)!.admissionToken!;
    expect((await status(fifth, eventId)).body).toMatchObject({ state: 'waiting', number: 5, position: 3, estimatedWaitSeconds: 2, admittedThrough: 2 });
    expect((await status(first, eventId)).body).toMatchObject({ state: 'admitted', expiresAt: admission.expiresAt });

    // A hold needs the token of this account for this event; refusals change nothing.
    const otherEvent = await highDemandEvent();
    const tokens = createAdmissionTokens(testConfig().auth.jwtSecret);
    const elsewhere = await tokens.sign({ accountId: first.id, eventId: otherEvent.eventId, expiresAt: clock + 10_000 }, clock);
    const forged = await createAdmissionTokens('some other secret entirely, 32+ chars').sign({ accountId: first.id, eventId, expiresAt: clock + 10_000 }, clock);
    const refusals: [string | undefined, string][] = [
      [undefined, 'missing'],
      ['', 'missing'],
      ['garbage', 'invalid'],
      [forged, 'invalid'],
      [first.token, 'invalid'], // an access token is not an admission
      [secondToken, 'other_account'],
      [elsewhere, 'other_event'],
    ];
    for (const [token, reason] of refusals) {
      const res = await hold(first, eventId, ticketTypeId, token);
      expect(res.status, `${reason}: ${JSON.stringify(res.body)}`).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'admission_required', details: { reason } });
    }
    expect((await hold(third, eventId, ticketTypeId)).body.error.code).toBe('admission_required');
    const tooLong = await hold(first, eventId, ticketTypeId, 'x'.repeat(5_000));
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error.code).toBe('validation_failed');
    expect(await purchasesOf(first)).toBe(0);
    expect(await purchasesOf(third)).toBe(0);

    const held = await hold(first, eventId, ticketTypeId, admission.admissionToken!, b);
    expect(held.status, JSON.stringify(held.body)).toBe(201);
    expect(['held', 'paying']).toContain(held.body.state);

    // The window ends: the second visitor's token no longer holds, and the next round takes the turn.
    const expiresAt = new Date(admission.expiresAt!).getTime();
    clock = expiresAt;
    const late = await hold(second, eventId, ticketTypeId, secondToken);
    expect(late.status).toBe(403);
    expect(late.body.error.details?.reason).toBe('expired');
    expect(await purchasesOf(second)).toBe(0);
    await round(); // lapses 1 and 2, admits 3 and 4 (a round counts at most one second after a pause)
    await expect.poll(() => latest(second)?.state, { timeout: 5_000 }).toBe('expired');
    await expect.poll(() => latest(third)?.state, { timeout: 5_000 }).toBe('admitted');
    expect((await status(second, eventId)).body).toMatchObject({ state: 'expired', admissionToken: null });
    expect((await status(first, eventId)).body.state).toBe('none');
    const rejoined = await join(second, eventId);
    expect(rejoined.body).toMatchObject({ state: 'waiting', number: 21, position: 17, admittedThrough: 4 });

    const sum = async (name: string) => {
      let total = 0;
      for (const n of nodes()) total += (await n.server.metrics.registry.getSingleMetric(name)!.get()).values.reduce((s, v) => s + v.value, 0);
      return total;
    };
    expect(await sum('boxoffice_waiting_room_admitted_total')).toBe(4);
    expect(await sum('boxoffice_waiting_room_expired_without_hold_total')).toBe(1);
    expect((await a.server.metrics.registry.getSingleMetric('boxoffice_waiting_room_waiting')!.get()).values[0]!.value).toBeGreaterThanOrEqual(17);
  });

  it('after the on-sale instant visitors queue in arrival order, one place per account', async () => {
    clock = salesStart + 2 * HOUR;
    const { eventId } = await highDemandEvent({ admitPerSecond: 1 });
    const line = buyers.slice(20, 26);
    // The nodes' timers run rounds meanwhile: the clock stands still, so at most one second's worth
    // (one visitor) is admitted, whenever that round happens; numbers do not depend on it.
    for (const [i, who] of line.entries()) {
      const res = await join(who, eventId, i % 2 ? a : b);
      const { admittedThrough } = res.body;
      expect(admittedThrough).toBeLessThanOrEqual(1);
      expect(res.body).toMatchObject({ state: 'waiting', lottery: false, number: i + 1, position: i + 1 - admittedThrough, estimatedWaitSeconds: i + 1 - admittedThrough });
    }
    const again = await Promise.all([join(line[2]!, eventId, a), join(line[2]!, eventId, b), join(line[2]!, eventId, a)]);
    expect(again.map((r) => r.body.number)).toEqual([3, 3, 3]);
    expect((await status(line[5]!, eventId)).body).toMatchObject({ number: 6 });

    await round();
    expect((await status(line[0]!, eventId)).body.state).toBe('admitted');
    expect((await status(line[1]!, eventId)).body).toMatchObject({ state: 'waiting', number: 2, position: 1, admittedThrough: 1, waiting: 5 });

    // Two visitors watch on one node; one stops watching and hears nothing more of the line.
    const [watching, leaving] = [await open(a, line[3]!.token), await open(a, line[4]!.token)];
    sockets.push(watching, leaving);
    const heard = { watching: [] as QueueUpdate[], leaving: [] as QueueUpdate[] };
    watching.on('queue', (u: QueueUpdate) => heard.watching.push(u));
    leaving.on('queue', (u: QueueUpdate) => heard.leaving.push(u));
    expect(await watching.emitWithAck('watchQueue', { eventId })).toMatchObject({ state: 'waiting', number: 4, position: 3 });
    expect(await leaving.emitWithAck('watchQueue', { eventId })).toMatchObject({ state: 'waiting', number: 5, position: 4 });
    leaving.emit('unwatchQueue', { eventId });
    await leaving.emitWithAck('watchQueue', { eventId: 'round trip' }); // the unwatch is handled before this
    clock += 1_000;
    await round();
    await expect.poll(() => heard.watching.at(-1)?.admittedThrough, { timeout: 5_000 }).toBe(2);
    await leaving.emitWithAck('watchQueue', { eventId: 'round trip' }); // anything sent to it before has arrived
    expect(heard.leaving).toEqual([]);
  });

  it('events without a room are open, as before; bad input gets a 4xx with the stable body', async () => {
    const sale = await saleEvent(db.sql, organizer.id, { capacity: 5 });
    const who = buyers[27]!;
    expect((await join(who, sale.eventId)).body).toMatchObject({ state: 'open', position: null, admissionToken: null });
    expect((await status(who, sale.eventId)).body.state).toBe('open');
    expect((await hold(who, sale.eventId, sale.ga)).status).toBe(201);

    const refuse = async (res: Promise<{ status: number; body: ErrorBody }>, status: number, code: string) => {
      const { status: got, body } = await res;
      expect(got, JSON.stringify(body)).toBe(status);
      expect(body.error.code).toBe(code);
      expect(body.error.message).toMatch(/\w/);
    };
    await refuse(join(who, 'not-an-id'), 400, 'validation_failed');
    await refuse(join(who, randomUUID()), 404, 'not_found');
    await refuse(call(`${a.api}/events/${sale.eventId}/waiting-room`, { method: 'POST' }), 401, 'unauthorized');
    await refuse(call(`${a.api}/events/${sale.eventId}/waiting-room`, { token: 'nope' }), 401, 'unauthorized');
    const [draft] = await db.sql<{ id: string }[]>`
      insert into events (organizer_id, slug, title, timezone, starts_at, ends_at, sales_start_at, sales_end_at, high_demand)
      values (${organizer.id}, ${`draft-${randomUUID().slice(0, 8)}`}, 'Draft', 'UTC', now() + interval '10 days', now() + interval '11 days',
              now(), now() + interval '9 days', true) returning id`;
    await refuse(join(who, draft!.id), 404, 'not_found');
    const [over] = await db.sql<{ id: string }[]>`
      insert into events (organizer_id, slug, title, timezone, starts_at, ends_at, sales_start_at, sales_end_at, status, published_at, high_demand)
      values (${organizer.id}, ${`over-${randomUUID().slice(0, 8)}`}, 'Over', 'UTC', now() + interval '10 days', now() + interval '11 days',
              now() - interval '3 days', now() - interval '2 days', 'published', now(), true) returning id`;
    await refuse(join(who, over!.id), 409, 'conflict');

    const anonymous = await open(a);
    sockets.push(anonymous);
    expect(await anonymous.emitWithAck('watchQueue', { eventId: sale.eventId })).toMatchObject({ error: { code: 'unauthorized' } });
    const signedIn = await open(b, who.token);
    sockets.push(signedIn);
    for (const bad of [{}, { eventId: 'nope' }, { eventId: sale.eventId, extra: 1 }, 'text']) {
      expect(await signedIn.emitWithAck('watchQueue', bad)).toMatchObject({ error: { code: 'validation_failed' } });
    }
    expect(await signedIn.emitWithAck('watchQueue', { eventId: randomUUID() })).toMatchObject({ error: { code: 'not_found' } });
    expect(await signedIn.emitWithAck('watchQueue', { eventId: sale.eventId })).toMatchObject({ state: 'open' });

    // A flood of messages gets rate_limited answers (the socket stays open).
    const flooding = await open(a, who.token);
    sockets.push(flooding);
    const answers = (await Promise.all(Array.from({ length: 20 }, () => flooding.emitWithAck('watchQueue', { eventId: sale.eventId })))) as ErrorBody[];
    expect(answers.filter((r) => r.error?.code === 'rate_limited').length).toBeGreaterThan(0);
    expect(flooding.connected).toBe(true);
  });
});
