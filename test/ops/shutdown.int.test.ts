// SIGTERM to a real node (server/main.ts as its own process, OpenTelemetry preloaded) with clients
// of every kind attached: live clients and door scanners are sent to reconnect elsewhere (Socket.IO
// "transport close", WebSockets 1012), a request still arriving when the signal lands gets its
// normal answer, the shutdown steps run in order ending with telemetry, nothing logs an error, and
// the process exits 0.
import { request, type IncomingMessage } from 'node:http';
import { io as connect } from 'socket.io-client';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../server/local/system.ts';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '../helpers/databases.ts';
import { nodeEnv, spawnScript, waitReady } from '../helpers/processes.ts';
import { people, saleEvent } from '../helpers/purchases.ts';
import { call } from '../helpers/server.ts';
import { testConfig } from '../helpers/config.ts';

interface LogLine {
  level: number;
  time: number;
  msg: string;
  step?: string;
  code?: number;
  reason?: string;
}

/** The close code and reason a WebSocket ends with. */
function closeOf(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
}

function opened(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
}

describe('SIGTERM to a running node', () => {
  let db: TestDatabase;
  let redis: TestRedis;

  beforeAll(async () => {
    [db, redis] = await Promise.all([createTestDatabase(), createTestRedis()]);
  });
  afterAll(async () => {
    await Promise.all([db.drop(), redis.cleanup()]);
  });

  it('drains HTTP, sends live clients and scanners elsewhere, finishes its work and exits 0', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const proc = spawnScript('server/main.ts', [], {
      ...nodeEnv(db, redis, port),
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      JWT_SECRET: testConfig().auth.jwtSecret,
    });
    let live: ReturnType<typeof connect> | undefined;
    try {
      let exited = false;
      void proc.exit.then(() => (exited = true));
      expect(await waitReady(`${base}/health/ready`, () => exited), proc.output()).toBe(200);

      const [organizer] = await people(db.sql, 1, 'organizer');
      const { eventId } = await saleEvent(db.sql, organizer!.id, { capacity: 10 });
      const devicesUrl = `${base}/api/v1/organizer/events/${eventId}/devices`;
      const device = await call<{ token: string }>(devicesUrl, { token: organizer!.token, body: { name: 'Door A' } });
      expect(device.status).toBe(201);

      // A live client watching the sale (default options: it reconnects when a connection drops).
      const watcher = connect(base, { transports: ['websocket'], forceNew: true });
      live = watcher;
      await new Promise<void>((resolve, reject) => {
        watcher.once('connect', () => resolve());
        watcher.once('connect_error', reject);
      });
      const snapshot = (await watcher.emitWithAck('watch', { eventId })) as { eventId?: string };
      expect(snapshot.eventId).toBe(eventId);
      // A bare engine.io WebSocket, and a scanner that said hello.
      const raw = new WebSocket(`${base.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`);
      const rawOpen = new Promise<string>((resolve) => raw.once('message', (data: Buffer) => resolve(data.toString())));
      const scanner = new WebSocket(`${base.replace('http', 'ws')}/scanner/v1`, { headers: { authorization: `Bearer ${device.body.token}` } });
      await Promise.all([opened(raw), opened(scanner)]);
      expect(await rawOpen).toMatch(/^0\{/);
      const welcome = new Promise<string>((resolve) => scanner.once('message', (data: Buffer) => resolve(data.toString())));
      scanner.send(JSON.stringify({ type: 'hello', protocol: 1 }));
      expect(JSON.parse(await welcome)).toMatchObject({ type: 'welcome' });

      // A request on its way in: the server has its headers (it answered "100 Continue", so the
      // request was routed before the signal) and half its body.
      const body = JSON.stringify({ name: 'Door B' });
      const inFlight = request(devicesUrl, {
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          authorization: `Bearer ${organizer!.token}`,
          expect: '100-continue',
        },
      });
      const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
        inFlight.on('response', (res: IncomingMessage) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        });
        inFlight.on('error', reject);
      });
      const routed = new Promise<void>((resolve) => inFlight.once('continue', () => resolve()));
      inFlight.flushHeaders();
      await routed;
      inFlight.write(body.slice(0, 6));

      const liveGone = new Promise<{ reason: string; active: boolean }>((resolve) =>
        watcher.once('disconnect', (reason) => resolve({ reason, active: watcher.active })),
      );
      const rawClosed = closeOf(raw);
      const scannerClosed = closeOf(scanner);

      proc.kill('SIGTERM');
      expect(await scannerClosed).toEqual({ code: 1012, reason: 'server restarting' });
      expect(await rawClosed).toEqual({ code: 1012, reason: 'server restarting' });
      // Socket.IO's client reconnects on "transport close" (it would give up on "io server disconnect").
      expect(await liveGone).toEqual({ reason: 'transport close', active: true });
      // No longer ready (503, or no longer listening).
      await expect
        .poll(async () => {
          try {
            return (await fetch(`${base}/health/ready`)).status;
          } catch {
            return 'refused';
          }
        })
        .not.toBe(200);
      expect(exited).toBe(false);

      // The rest of the body arrives: the request is answered as usual.
      inFlight.end(body.slice(6));
      const res = await answer;
      expect(res.status, res.body).toBe(201);
      expect(JSON.parse(res.body)).toMatchObject({ name: 'Door B' });

      expect(await proc.exit, proc.output()).toBe(0);
      const lines = proc
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as LogLine);
      expect(lines.filter((l) => l.level >= 50), proc.output()).toEqual([]);
      expect(lines.find((l) => l.msg === 'shutting down')?.reason).toBe('SIGTERM');
      // Sockets before the listener, workers (their jobs finished) before the pools, telemetry last.
      // Compared by time: lines written within a millisecond or two may reach the pipe out of order.
      const done = new Map(lines.filter((l) => l.msg === 'shutdown step done').map((l) => [l.step!, l.time]));
      const order = ['scanner sockets', 'live sockets', 'http', 'purchase workers', 'mail worker', 'mail queue', 'redis', 'postgres', 'telemetry'];
      const times = order.map((step) => done.get(step) ?? Number.NaN);
      expect(times.every((t, i) => i === 0 || t >= times[i - 1]!), JSON.stringify(Object.fromEntries(done))).toBe(true);
      expect(Math.max(...done.values())).toBe(done.get('telemetry'));
      const complete = lines.find((l) => l.msg === 'shutdown complete');
      expect(complete?.code).toBe(0);
      expect(complete!.time).toBeGreaterThanOrEqual(done.get('telemetry')!);
    } finally {
      live?.close();
      proc.kill('SIGKILL');
    }
  }, 60_000);
});
