// Scanners at the door over real WebSockets: signed codes checked offline with the event's public
// key, two devices racing on one ticket 100 times (exactly one admission each time), forged,
// truncated, foreign and revoked codes refused, unauthenticated upgrades refused before any
// message, bad messages answered, an oversized frame closing only its own device, overrides only
// with a reason and a device allowed to.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io as connectLive } from 'socket.io-client';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyCode } from '../../server/scanning/index.ts';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '../helpers/databases.ts';
import { buy, people, saleEvent, settled, type Person } from '../helpers/purchases.ts';
import { spawnScript } from '../helpers/processes.ts';
import { call, startTestServer, type TestServer } from '../helpers/server.ts';

interface Reply {
  type: string;
  requestId?: string;
  outcome?: string;
  code?: string;
  admittedBy?: { deviceId: string; name: string };
  publicKey?: string;
}

/** A scanner connection: send a message, await the reply to it. */
async function scanner(server: TestServer, token: string) {
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/scanner/v1`, { headers: { authorization: `Bearer ${token}` } });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const waiting = new Map<string, (r: Reply) => void>();
  const unsolicited: Reply[] = [];
  ws.on('message', (data: Buffer) => {
    const reply = JSON.parse(data.toString()) as Reply;
    const key = reply.requestId ?? reply.type;
    const resolve = waiting.get(key);
    if (resolve) {
      waiting.delete(key);
      resolve(reply);
    } else unsolicited.push(reply);
  });
  const ask = (message: Record<string, unknown>, key: string) =>
    new Promise<Reply>((resolve) => {
      waiting.set(key, resolve);
      ws.send(JSON.stringify(message));
    });
  return {
    ws,
    unsolicited,
    hello: () => ask({ type: 'hello', protocol: 1 }, 'welcome'),
    validate: (code: string) => {
      const requestId = randomUUID();
      return ask({ type: 'validate', requestId, code }, requestId);
    },
    sync: (scans: { localId: string; code: string; scannedAt: Date }[]) => {
      const requestId = randomUUID();
      return ask({ type: 'sync', requestId, scans }, requestId) as Promise<Reply & { results: { localId: string; outcome: string; conflict?: boolean }[] }>;
    },
    revocations: () => {
      const requestId = randomUUID();
      return ask({ type: 'revocations', requestId }, requestId) as Promise<Reply & { ticketIds: string[]; version: number }>;
    },
    override: (code: string, reason: string) => {
      const requestId = randomUUID();
      return ask({ type: 'override', requestId, code, reason }, requestId);
    },
  };
}

describe('scanners', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let node: TestServer;
  let organizer: Person;
  let buyers: Person[];
  let eventId: string;
  let codes: string[];
  let doorA: string;
  let doorB: string;

  beforeAll(async () => {
    [db, redis] = await Promise.all([createTestDatabase(), createTestRedis()]);
    node = await startTestServer(db, redis, { RATE_LIMIT_PURCHASES_PER_USER_PER_MINUTE: '1000', SCANNER_MESSAGES_PER_SECOND: '1000', SCANNER_ADMIT_FROM_HOURS: '2000' });
    const [organizers, customers] = await Promise.all([people(db.sql, 1, 'organizer'), people(db.sql, 12)]);
    organizer = organizers[0]!;
    buyers = customers;
    const sale = await saleEvent(db.sql, organizer.id, { capacity: 120 });
    eventId = sale.eventId;
    // 110 tickets, bought and paid the way buyers do.
    for (const buyer of buyers.slice(0, 11)) {
      const res = await buy(node.api, buyer, { eventId, items: [{ ticketTypeId: sale.ga, quantity: 10 }] });
      await call(`${node.api}/sandbox/payments/${(res.body['payment'] as { paymentId: string }).paymentId}/succeed`, { token: buyer.token, body: {} });
      await settled(db.sql, res.body.id, ['confirmed']);
    }
    codes = (await db.sql<{ code: string }[]>`select code from tickets where event_id = ${eventId} order by id`).map((r) => r.code);
    const device = async (name: string) =>
      (await call<{ token: string }>(`${node.api}/organizer/events/${eventId}/devices`, { token: organizer.token, body: { name } })).body.token;
    [doorA, doorB] = [await device('Door A'), await device('Door B')];
  }, 120_000);
  afterAll(async () => {
    await node?.stop();
    await Promise.all([db?.drop(), redis?.cleanup()]);
  });

  it('refuses an upgrade without a valid device token before any message', async () => {
    for (const headers of [{}, { authorization: 'Bearer bxd_not-a-real-token' }]) {
      const ws = new WebSocket(`${node.url.replace('http', 'ws')}/scanner/v1`, { headers });
      const status = await new Promise<number>((resolve) => {
        ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.once('open', () => resolve(101));
      });
      expect(status).toBe(401);
    }
  });

  it('welcomes a device with the public key that checks every code offline', async () => {
    const a = await scanner(node, doorA);
    const welcome = await a.hello();
    expect(welcome).toMatchObject({ type: 'welcome', protocol: 1, event: { id: eventId } });
    const key = Buffer.from(welcome.publicKey!, 'base64url');
    for (const code of codes.slice(0, 5)) expect(verifyCode(code, key)).toMatchObject({ ok: true, facts: { eventId } });
    const forged = `${codes[0]!.slice(0, -3)}AAA`;
    expect(verifyCode(forged, key).ok).toBe(false);
    a.ws.close();
  });

  it('two devices racing on one ticket: exactly one admits it, 100 times out of 100', async () => {
    const [a, b] = await Promise.all([scanner(node, doorA), scanner(node, doorB)]);
    // The organizer watches the doors live.
    const live = connectLive(node.url, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { token: organizer.token } });
    const doors: { admitted: number }[] = [];
    live.on('doors', (d: { admitted: number }) => doors.push(d));
    await new Promise<void>((resolve) => live.once('connect', () => resolve()));
    expect(await live.emitWithAck('watchDoors', { eventId })).toMatchObject({ eventId, admitted: 0 });
    const stranger = connectLive(node.url, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { token: buyers[0]!.token } });
    await new Promise<void>((resolve) => stranger.once('connect', () => resolve()));
    expect(await stranger.emitWithAck('watchDoors', { eventId })).toMatchObject({ error: { code: 'not_found' } });
    stranger.disconnect();
    for (const code of codes.slice(0, 100)) {
      const [ra, rb] = await Promise.all([a.validate(code), b.validate(code)]);
      const outcomes = [ra.outcome, rb.outcome].sort();
      expect(outcomes).toEqual(['admitted', 'already_admitted']);
      const loser = ra.outcome === 'already_admitted' ? ra : rb;
      expect(['Door A', 'Door B']).toContain(loser.admittedBy?.name);
      expect(loser.admittedBy?.name).not.toBe(ra.outcome === 'already_admitted' ? 'Door A' : 'Door B');
    }
    const [admitted] = await db.sql<{ n: number }[]>`select count(*)::int as n from tickets where event_id = ${eventId} and admitted_at is not null`;
    expect(admitted!.n).toBe(100);
    const [logged] = await db.sql<{ n: number }[]>`select count(*)::int as n from checkins where event_id = ${eventId} and outcome = 'admitted'`;
    expect(logged!.n).toBe(100);
    await expect.poll(() => doors.at(-1)?.admitted, { timeout: 2_000 }).toBe(100);
    expect(doors.length).toBeLessThan(100); // coalesced, not one message per scan
    live.disconnect();
    a.ws.close();
    b.ws.close();
  });

  it('refuses forged, truncated, foreign and revoked codes, and answers bad messages', async () => {
    const a = await scanner(node, doorA);
    const fresh = codes[100]!;
    expect((await a.validate(`${fresh.slice(0, -4)}AAAA`)).outcome).toBe('invalid_signature');
    expect((await a.validate(fresh.slice(0, 40))).outcome).toBe('invalid_signature');
    expect((await a.validate('not a ticket')).outcome).toBe('invalid_signature');

    const other = await saleEvent(db.sql, organizer.id, { capacity: 5 });
    const res = await buy(node.api, buyers[11]!, { eventId: other.eventId, items: [{ ticketTypeId: other.ga, quantity: 1 }] });
    await call(`${node.api}/sandbox/payments/${(res.body['payment'] as { paymentId: string }).paymentId}/succeed`, { token: buyers[11]!.token, body: {} });
    await settled(db.sql, res.body.id, ['confirmed']);
    const [foreign] = await db.sql<{ code: string }[]>`select code from tickets where event_id = ${other.eventId}`;
    expect((await a.validate(foreign!.code)).outcome).toBe('wrong_event');

    // Refunded: the ticket is void, and the door says so.
    const [victim] = await db.sql<{ id: string; purchase_id: string; code: string }[]>`
      select id, purchase_id, code from tickets where code = ${codes[101]!}`;
    const refund = await call(`${node.api}/organizer/events/${eventId}/purchases/${victim!.purchase_id}/refunds`, {
      token: organizer.token,
      body: { reason: 'cannot come', ticketIds: [victim!.id] },
    });
    expect(refund.status).toBe(200);
    await expect.poll(async () => (await a.validate(victim!.code)).outcome).toBe('revoked');

    // Overrides need a device allowed to, and a reason.
    const denied = await a.override(fresh, 'stepped out for air');
    expect(denied).toMatchObject({ type: 'error', code: 'forbidden' });
    const short = await a.override(fresh, 'no');
    expect(short).toMatchObject({ type: 'error', code: 'validation_failed' });

    const errors: Reply[] = [];
    a.ws.on('message', (d: Buffer) => errors.push(JSON.parse(d.toString()) as Reply));
    a.ws.send('{not json');
    a.ws.send(JSON.stringify({ type: 'teleport' }));
    await expect.poll(() => errors.map((e) => e.code)).toEqual(['malformed', 'validation_failed']);
    // An event whose doors have not opened yet: its tickets are not valid yet.
    const later = await saleEvent(db.sql, organizer.id, { capacity: 2 });
    await db.sql`update events set starts_at = now() + interval '200 days', ends_at = now() + interval '201 days' where id = ${later.eventId}`;
    const early = await buy(node.api, buyers[11]!, { eventId: later.eventId, items: [{ ticketTypeId: later.ga, quantity: 1 }] });
    await call(`${node.api}/sandbox/payments/${(early.body['payment'] as { paymentId: string }).paymentId}/succeed`, { token: buyers[11]!.token, body: {} });
    await settled(db.sql, early.body.id, ['confirmed']);
    const laterDoor = (await call<{ token: string }>(`${node.api}/organizer/events/${later.eventId}/devices`, { token: organizer.token, body: { name: 'Early door' } })).body.token;
    const [earlyCode] = await db.sql<{ code: string }[]>`select code from tickets where event_id = ${later.eventId}`;
    const c = await scanner(node, laterDoor);
    expect((await c.validate(earlyCode!.code)).outcome).toBe('not_valid_yet');
    c.ws.close();
    const [admittedFresh] = await db.sql<{ admitted_at: Date | null }[]>`select admitted_at from tickets where code = ${fresh}`;
    expect(admittedFresh!.admitted_at).toBeNull();
    a.ws.close();
  });

  it('an oversized frame closes that device with 1009; the other keeps scanning', async () => {
    const [a, b] = await Promise.all([scanner(node, doorA), scanner(node, doorB)]);
    const closed = new Promise<number>((resolve) => a.ws.once('close', (closeCode: number) => resolve(closeCode)));
    a.ws.send(JSON.stringify({ type: 'validate', requestId: 'big', code: 'x'.repeat(10_000) }));
    expect(await closed).toBe(1009);
    expect((await b.validate(codes[102]!)).outcome).toBe('admitted');
    b.ws.close();
  });

  it('syncs offline scans: the earliest scan admits, the other door\'s is a conflict the organizer can see', async () => {
    const [a, b] = await Promise.all([scanner(node, doorA), scanner(node, doorB)]);
    const [x, y] = [codes[103]!, codes[104]!];
    expect((await a.validate(x)).outcome).toBe('admitted'); // door A, online, now
    const now = Date.now();
    // Door B was offline: it let X in a minute ago and Y half a minute ago.
    const synced = await b.sync([
      { localId: 'b-2', code: y, scannedAt: new Date(now - 30_000) },
      { localId: 'b-1', code: x, scannedAt: new Date(now - 60_000) },
    ]);
    expect(synced.results).toEqual([
      { localId: 'b-1', outcome: 'admitted', conflict: true },
      { localId: 'b-2', outcome: 'admitted' },
    ]);
    // Syncing the same scans again changes nothing.
    const again = await b.sync([{ localId: 'b-1', code: x, scannedAt: new Date(now - 60_000) }]);
    expect(again.results).toEqual([{ localId: 'b-1', outcome: 'admitted' }]);
    // Door A had also let Y in offline, later: B's earlier scan stays the admission.
    const late = await a.sync([{ localId: 'a-1', code: y, scannedAt: new Date(now - 10_000) }]);
    expect(late.results).toEqual([{ localId: 'a-1', outcome: 'already_admitted', conflict: true }]);

    const conflicts = await call<{ items: { ticketId: string; kept: { name: string }; other: { name: string } }[] }>(
      `${node.api}/organizer/events/${eventId}/scan-conflicts`,
      { token: organizer.token },
    );
    expect(conflicts.status).toBe(200);
    expect(conflicts.body.items.map((c) => `${c.kept.name} over ${c.other.name}`)).toEqual(['Door B over Door A', 'Door B over Door A']);
    const [xRow] = await db.sql<{ name: string }[]>`
      select d.name from tickets t join scanner_devices d on d.id = t.admitted_by_device where t.code = ${x}`;
    expect(xRow!.name).toBe('Door B');

    const counts = await call<{ admitted: number; devices: { name: string; admitted: number }[] }>(`${node.api}/organizer/events/${eventId}/door-counts`, {
      token: organizer.token,
    });
    const [inside] = await db.sql<{ n: number }[]>`select count(*)::int as n from tickets where event_id = ${eventId} and admitted_at is not null and status = 'valid'`;
    expect(counts.body.admitted).toBe(inside!.n);
    expect(counts.body.devices.map((d) => d.name)).toEqual(['Door A', 'Door B']);
    expect((await call(`${node.api}/organizer/events/${eventId}/door-counts`, { token: buyers[0]!.token })).status).toBe(403);

    const revoked = await a.revocations();
    const voided = await db.sql<{ id: string }[]>`select id from tickets where event_id = ${eventId} and status <> 'valid'`;
    expect(revoked.ticketIds.sort()).toEqual(voided.map((v) => v.id).sort());
    a.ws.close();
    b.ws.close();
  });

  it('the scanner simulator scans a file online, and offline with a sync at the end', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scanner-'));
    const online = join(dir, 'online.txt');
    writeFileSync(online, `${codes[105]}\n${codes[105]}\nnot-a-code\n`);
    const run = spawnScript('clients/scanner/scan.ts', ['--url', node.url, '--token', doorA, '--file', online], {});
    expect(await run.exit, run.output()).toBe(0);
    const lines = run.output().trim().split('\n').map((l) => JSON.parse(l) as Reply);
    expect(lines.map((l) => l.outcome ?? l.type)).toEqual(['welcome', 'admitted', 'already_admitted', 'invalid_signature']);

    const offline = join(dir, 'offline.txt');
    writeFileSync(offline, `${codes[106]}\n${codes[106]}\n${codes[107]}\n`);
    const off = spawnScript('clients/scanner/scan.ts', ['--url', node.url, '--token', doorB, '--file', offline, '--offline'], {});
    expect(await off.exit, off.output()).toBe(0);
    const out = off.output().trim().split('\n').map((l) => JSON.parse(l) as Reply & { results?: { outcome: string }[] });
    expect(out.slice(1).map((l) => l.outcome ?? l.type)).toEqual(['admitted', 'already_admitted', 'admitted', 'synced']);
    expect(out.at(-1)!.results!.map((r) => r.outcome)).toEqual(['admitted', 'admitted']);
    const [row] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from tickets where code in (${codes[106]!}, ${codes[107]!}) and admitted_at is not null`;
    expect(row!.n).toBe(2);
    const refused = spawnScript('clients/scanner/scan.ts', ['--url', node.url, '--token', 'bxd_wrong', '--file', online], {});
    expect(await refused.exit).toBe(1);
    expect(refused.output()).toContain('HTTP 401');
  }, 60_000);

  it('a node shutting down tells its devices to reconnect elsewhere (1012)', async () => {
    const other = await startTestServer(db, redis);
    const device = await scanner(other, doorA);
    const closed = new Promise<number>((resolve) => device.ws.once('close', (closeCode: number) => resolve(closeCode)));
    await other.stop();
    expect(await closed).toBe(1012);
  });
});
