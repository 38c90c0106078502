// A node shutting down sends its live clients elsewhere: socket.io-client sees "transport close"
// (over WebSocket and over long-polling) and starts reconnecting, and a raw WebSocket sees close
// code 1012 ("service restart"); the sessions are kept for recovery on another node.
import { io as connect, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '../helpers/databases.ts';
import { startTestServer } from '../helpers/server.ts';

function connected(socket: Socket): Promise<Socket> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

/** The disconnect reason, and whether the client meant to come back at that moment. */
function disconnected(socket: Socket): Promise<{ reason: string; active: boolean }> {
  return new Promise((resolve) => socket.once('disconnect', (reason) => resolve({ reason, active: socket.active })));
}

describe('live clients at shutdown', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  const clients: Socket[] = [];

  beforeAll(async () => {
    [db, redis] = await Promise.all([createTestDatabase(), createTestRedis()]);
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await Promise.all([db.drop(), redis.cleanup()]);
  });

  it('are told to reconnect elsewhere, not to stay away', async () => {
    const node = await startTestServer(db, redis);
    const overWebSocket = connect(node.url, { transports: ['websocket'], forceNew: true });
    const overPolling = connect(node.url, { transports: ['polling'], forceNew: true });
    clients.push(overWebSocket, overPolling);
    await Promise.all([connected(overWebSocket), connected(overPolling)]);
    const raw = new WebSocket(`${node.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`);
    // engine.io's open packet: the connection is established.
    const opened = await new Promise<string>((resolve, reject) => {
      raw.once('message', (data: Buffer) => resolve(data.toString()));
      raw.once('error', reject);
    });
    expect(opened.startsWith('0{')).toBe(true);

    const wsGone = disconnected(overWebSocket);
    const pollingGone = disconnected(overPolling);
    const rawClosed = new Promise<{ code: number; reason: string }>((resolve) => raw.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
    const reconnecting = new Promise<void>((resolve) => overWebSocket.io.once('reconnect_attempt', () => resolve()));

    await node.stop();
    expect(await wsGone).toEqual({ reason: 'transport close', active: true });
    expect(await pollingGone).toEqual({ reason: 'transport close', active: true });
    expect(await rawClosed).toEqual({ code: 1012, reason: 'server restarting' });
    await reconnecting;
    // Their sessions wait in Redis for the node they reconnect to (connection state recovery).
    expect(await redis.client.keys(`${redis.prefix}:live-session:*`)).toHaveLength(2);
  });
});
