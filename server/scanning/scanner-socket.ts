// Scanners at the door over plain WebSockets (`/scanner/v1`): the device token is checked before
// the upgrade completes (401 and no socket otherwise); then a small versioned JSON protocol:
// hello -> welcome (event, public key, server time), validate -> result, override (devices allowed
// to, with a reason, audited). Admission is one conditional update in PostgreSQL, so of two devices
// scanning one ticket at once exactly one admits it; every scan lands in the checkins log.
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Link } from '@opentelemetry/api';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { z } from 'zod';
import type { DevicePrincipal } from '../identity/index.ts';
import { recordAudit } from '../identity/index.ts';
import type { Logger } from '../observability/index.ts';
import type { Sql } from '../store/index.ts';
import { peekFacts, verifyCode, type TicketSigner } from './ticket-codes.ts';
import { connectionLink, traceMessage } from '../observability/message-spans.ts';

export const SCANNER_PATH = '/scanner/v1';
export const PROTOCOL_VERSION = 1;
const MAX_FRAME_BYTES = 4 * 1024;
const HEARTBEAT_MS = 15_000;
/** A device that has this much unsent data is not reading: it is closed. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

const code = z.string().min(1).max(400);
const requestId = z.string().min(1).max(64);
const messageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), protocol: z.literal(PROTOCOL_VERSION), device: z.string().max(100).optional() }).strict(),
  z.object({ type: z.literal('validate'), requestId, code }).strict(),
  z.object({ type: z.literal('override'), requestId, code, reason: z.string().trim().min(5).max(500) }).strict(),
  z.object({ type: z.literal('revocations'), requestId }).strict(),
  z.object({
    type: z.literal('sync'),
    requestId,
    scans: z.array(z.object({ localId: z.string().min(1).max(64), code, scannedAt: z.coerce.date() }).strict()).min(1).max(200),
  }).strict(),
]);

export type ScanOutcome = 'admitted' | 'already_admitted' | 'invalid_signature' | 'unknown_ticket' | 'wrong_event' | 'revoked' | 'not_valid_yet' | 'overridden';

export interface ScannerDeps {
  httpServer: HttpServer;
  sql: Sql;
  signer: TicketSigner;
  authenticateDevice: (token: string) => Promise<DevicePrincipal>;
  log: Logger;
  /** Messages one device may send per second (bursts of twice that). */
  messagesPerSecond: number;
  /** How long before the event starts its doors open (earlier: not_valid_yet). */
  admitFromMs: number;
  /** Told of every admission (live door counts). */
  onAdmitted?: (eventId: string, deviceId: string) => void;
  /** Told the outcome of every ticket checked, online or synced from offline (metrics). */
  onChecked?: (outcome: string, source: 'online' | 'offline') => void;
}

interface TicketRow {
  id: string;
  status: string;
  ticket_type_id: string;
  seat_id: string | null;
  admitted_at: Date | null;
  admitted_by_device: string | null;
  device_name: string | null;
}

/** The requestId of a message, if it has one (to answer even a refused message by its id). */
function requestIdOf(data: unknown): string | undefined {
  try {
    const id = (JSON.parse(String(Buffer.isBuffer(data) ? data.toString('utf8') : '')) as { requestId?: unknown }).requestId;
    return typeof id === 'string' ? id.slice(0, 64) : undefined;
  } catch {
    return undefined;
  }
}

export function attachScanners(deps: ScannerDeps) {
  const { sql, log } = deps;
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });

  function refuse(socket: Duplex, status: number, message: string) {
    const body = JSON.stringify({ error: { code: status === 401 ? 'unauthorized' : 'bad_request', message } });
    socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Bad Request'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  }

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    const url = new URL(req.url ?? '/', 'http://scanner.invalid');
    if (url.pathname !== SCANNER_PATH) return; // Socket.IO answers its own path
    const header = req.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7) : url.searchParams.get('token');
    if (!token) return refuse(socket, 401, 'a device token is required');
    deps
      .authenticateDevice(token)
      .then((device) => wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, device, connectionLink(req.headers))))
      .catch(() => refuse(socket, 401, 'invalid or revoked device token'));
  }
  deps.httpServer.on('upgrade', onUpgrade);

  async function record(device: DevicePrincipal, ticketId: string | null, outcome: ScanOutcome, source: 'online' | 'override', reason: string | null = null) {
    await sql`
      insert into checkins (event_id, ticket_id, device_id, outcome, source, reason)
      values (${device.eventId}, ${ticketId}, ${device.deviceId}, ${outcome}, ${source}, ${reason})`;
  }

  /**
   * An offline scan, applied later: the earliest scan of a ticket is its admission. If another
   * device admitted it too, the pair is recorded as a conflict for the organizer.
   */
  async function applyOffline(device: DevicePrincipal, scanned: string, scannedAt: Date) {
    const claimed = peekFacts(scanned);
    if (claimed && claimed.eventId !== device.eventId) return { outcome: 'wrong_event' as const };
    const checked = verifyCode(scanned, await deps.signer.publicKey(device.eventId));
    if (!checked.ok) return { outcome: 'invalid_signature' as const };
    const { ticketId } = checked.facts;
    return sql.begin(async (tx) => {
      const [ticket] = await tx<{ status: string; admitted_at: Date | null; admitted_by_device: string | null }[]>`
        select status, admitted_at, admitted_by_device from tickets where id = ${ticketId} and event_id = ${device.eventId} for update`;
      const log = (outcome: ScanOutcome) => tx`
        insert into checkins (event_id, ticket_id, device_id, outcome, source, scanned_at)
        values (${device.eventId}, ${ticketId}, ${device.deviceId}, ${outcome}, 'offline', ${scannedAt})`;
      if (!ticket) return { outcome: 'unknown_ticket' as const };
      if (ticket.status !== 'valid') {
        await log('revoked');
        return { outcome: 'revoked' as const };
      }
      if (!ticket.admitted_at || ticket.admitted_by_device === device.deviceId) {
        if (!ticket.admitted_at) {
          await tx`update tickets set admitted_at = ${scannedAt}, admitted_by_device = ${device.deviceId} where id = ${ticketId}`;
          await log('admitted');
          deps.onAdmitted?.(device.eventId, device.deviceId);
        }
        return { outcome: 'admitted' as const };
      }
      const earlier = scannedAt < ticket.admitted_at;
      const kept = earlier ? { device: device.deviceId, at: scannedAt } : { device: ticket.admitted_by_device!, at: ticket.admitted_at };
      const other = earlier ? { device: ticket.admitted_by_device!, at: ticket.admitted_at } : { device: device.deviceId, at: scannedAt };
      if (earlier) await tx`update tickets set admitted_at = ${scannedAt}, admitted_by_device = ${device.deviceId} where id = ${ticketId}`;
      await tx`
        insert into scan_conflicts (event_id, ticket_id, kept_device, kept_at, other_device, other_at)
        values (${device.eventId}, ${ticketId}, ${kept.device}, ${kept.at}, ${other.device}, ${other.at})`;
      await log(earlier ? 'admitted' : 'already_admitted');
      return { outcome: earlier ? ('admitted' as const) : ('already_admitted' as const), conflict: true };
    });
  }

  const startsAt = new Map<string, Date>();
  /** Before the doors open (the event's start less admitFromMs), no ticket is valid yet. */
  async function doorsClosed(eventId: string): Promise<boolean> {
    let start = startsAt.get(eventId);
    if (!start) {
      const [event] = await sql<{ starts_at: Date }[]>`select starts_at from events where id = ${eventId}`;
      start = event!.starts_at;
      startsAt.set(eventId, start);
    }
    return Date.now() < start.getTime() - deps.admitFromMs;
  }

  async function ticketOf(ticketId: string, eventId: string): Promise<TicketRow | undefined> {
    const [row] = await sql<TicketRow[]>`
      select t.id, t.status, t.ticket_type_id, t.seat_id::text, t.admitted_at, t.admitted_by_device, d.name as device_name
      from tickets t left join scanner_devices d on d.id = t.admitted_by_device
      where t.id = ${ticketId} and t.event_id = ${eventId}`;
    return row;
  }

  /** Checks a code and, if it is good, admits its ticket (exactly once, whichever device asks first). */
  async function validate(device: DevicePrincipal, scanned: string, override: string | null) {
    const claimed = peekFacts(scanned);
    if (claimed && claimed.eventId !== device.eventId) {
      await record(device, null, 'wrong_event', 'online');
      return { outcome: 'wrong_event' as const };
    }
    const checked = verifyCode(scanned, await deps.signer.publicKey(device.eventId));
    if (!checked.ok) {
      await record(device, null, 'invalid_signature', 'online');
      return { outcome: 'invalid_signature' as const };
    }
    const { ticketId } = checked.facts;
    if (await doorsClosed(device.eventId)) {
      await record(device, ticketId, 'not_valid_yet', 'online');
      return { outcome: 'not_valid_yet' as const };
    }
    const [admitted] = await sql<{ admitted_at: Date }[]>`
      update tickets set admitted_at = now(), admitted_by_device = ${device.deviceId}
      where id = ${ticketId} and event_id = ${device.eventId} and status = 'valid' and admitted_at is null
      returning admitted_at`;
    const ticket = await ticketOf(ticketId, device.eventId);
    const summary = ticket ? { id: ticket.id, ticketTypeId: ticket.ticket_type_id, seatId: ticket.seat_id } : undefined;
    if (admitted) {
      await record(device, ticketId, 'admitted', override ? 'override' : 'online', override);
      deps.onAdmitted?.(device.eventId, device.deviceId);
      return { outcome: 'admitted' as const, ticket: summary, admittedAt: admitted.admitted_at };
    }
    if (!ticket) {
      await record(device, ticketId, 'unknown_ticket', 'online');
      return { outcome: 'unknown_ticket' as const };
    }
    if (ticket.status !== 'valid') {
      await record(device, ticketId, 'revoked', 'online');
      return { outcome: 'revoked' as const, ticket: summary };
    }
    if (override) {
      // Let in again on a person's word (e.g. a guest who stepped out), recorded with the reason.
      await record(device, ticketId, 'overridden', 'override', override);
      await recordAudit(sql, {
        action: 'scanning.override',
        actor: { kind: 'device', id: device.deviceId },
        subject: { type: 'ticket', id: ticketId },
        reason: override,
      });
      return { outcome: 'overridden' as const, ticket: summary, admittedAt: ticket.admitted_at };
    }
    await record(device, ticketId, 'already_admitted', 'online');
    return {
      outcome: 'already_admitted' as const,
      ticket: summary,
      admittedAt: ticket.admitted_at,
      admittedBy: { deviceId: ticket.admitted_by_device, name: ticket.device_name },
    };
  }

  function onConnection(ws: WebSocket, device: DevicePrincipal, links: Link[]) {
    let alive = true;
    const perSecond = deps.messagesPerSecond;
    const burst = perSecond * 2;
    let tokens = burst;
    let refilled = Date.now();
    const send = (message: object) => {
      if (ws.readyState !== ws.OPEN) return;
      if (ws.bufferedAmount > MAX_BUFFERED_BYTES) return ws.close(1013, 'not reading');
      ws.send(JSON.stringify(message));
    };
    const error = (code: string, message: string, id?: string) => send({ type: 'error', code, message, ...(id ? { requestId: id } : {}) });
    ws.on('pong', () => (alive = true));
    const heartbeat = setInterval(() => {
      if (!alive) return ws.terminate();
      alive = false;
      ws.ping();
    }, HEARTBEAT_MS);
    heartbeat.unref();
    ws.on('close', () => clearInterval(heartbeat));
    ws.on('error', (err) => log.warn({ err, deviceId: device.deviceId }, 'scanner socket error'));

    ws.on('message', (data, isBinary) => {
      const now = Date.now();
      tokens = Math.min(burst, tokens + ((now - refilled) / 1000) * perSecond);
      refilled = now;
      if (tokens < 1) return error('rate_limited', 'slow down: too many messages', requestIdOf(data));
      tokens -= 1;
      let parsed: z.infer<typeof messageSchema>;
      try {
        if (isBinary) throw new Error('binary');
        const text = Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]).toString('utf8');
        const body = messageSchema.safeParse(JSON.parse(text));
        if (!body.success) {
          return error('validation_failed', body.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; '), requestIdOf(data));
        }
        parsed = body.data;
      } catch {
        return error('malformed', 'messages are JSON text frames');
      }
      const attributes = { 'messaging.system': 'websocket', 'messaging.operation.name': parsed.type, 'boxoffice.device.id': device.deviceId, 'boxoffice.event.id': device.eventId };
      void traceMessage(`scanner ${parsed.type}`, attributes, links, () => handle(parsed)).catch((err: unknown) => {
        log.warn({ err, deviceId: device.deviceId }, 'scan failed');
        error('internal', 'the scan could not be recorded; try again', 'requestId' in parsed ? parsed.requestId : undefined);
      });
    });

    async function handle(message: z.infer<typeof messageSchema>) {
      if (message.type === 'hello') {
        const [event] = await sql<{ id: string; title: string; starts_at: Date }[]>`select id, title, starts_at from events where id = ${device.eventId}`;
        const [revoked] = await sql<{ n: number }[]>`select count(*)::int as n from tickets where event_id = ${device.eventId} and status <> 'valid'`;
        return send({
          type: 'welcome',
          protocol: PROTOCOL_VERSION,
          event: { id: event!.id, title: event!.title, startsAt: event!.starts_at },
          publicKey: (await deps.signer.publicKey(device.eventId)).toString('base64url'),
          serverTime: new Date(),
          revocationVersion: revoked!.n,
        });
      }
      if (message.type === 'revocations') {
        const rows = await sql<{ id: string }[]>`select id from tickets where event_id = ${device.eventId} and status <> 'valid' order by id`;
        return send({ type: 'revocations', requestId: message.requestId, version: rows.length, ticketIds: rows.map((r) => r.id) });
      }
      if (message.type === 'sync') {
        const ordered = [...message.scans].sort((a, b) => a.scannedAt.getTime() - b.scannedAt.getTime());
        const results = [];
        for (const scan of ordered) {
          const checked = await applyOffline(device, scan.code, scan.scannedAt);
          deps.onChecked?.(checked.outcome, 'offline');
          results.push({ localId: scan.localId, ...checked });
        }
        return send({ type: 'synced', requestId: message.requestId, results });
      }
      if (message.type === 'override') {
        const [allowed] = await sql<{ can_override: boolean }[]>`select can_override from scanner_devices where id = ${device.deviceId}`;
        if (!allowed?.can_override) return error('forbidden', 'this device may not override', message.requestId);
      }
      const result = await validate(device, message.code, message.type === 'override' ? message.reason : null);
      deps.onChecked?.(result.outcome, 'online');
      send({ type: 'result', requestId: message.requestId, ...result });
    }
  }

  return {
    wss,
    async close(): Promise<void> {
      deps.httpServer.off('upgrade', onUpgrade);
      // 1012: the service is restarting; a device reconnects (to another node behind the balancer).
      for (const client of wss.clients) client.close(1012, 'server restarting');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

export type Scanners = ReturnType<typeof attachScanners>;
