// Live availability over Socket.IO. A browser `watch`es an event and gets a snapshot (counts per
// ticket type, held and sold seats, a version), then `availability` updates: at most one per event
// per interval per node (the interval grows with the audience to keep a node within its delivery
// budget). Every node sends its own updates, so they reach a watcher out of order: each one is
// versioned from one Redis counter per event and carries the counts and the states of the seats
// that changed as read with that version (availability-cut.ts), so the client lets the newest
// version win per seat and for the counts, in any order (clients/sdk/availability-view.ts). Nodes
// share rooms through the Redis Streams adapter (which also keeps connection state recovery
// working). A signed-in buyer also gets their own purchases' state changes.
import type { Server as HttpServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { Server, type Socket } from 'socket.io';
import { z } from 'zod';
import type { SeatStates } from '../catalog/index.ts';
import type { Config } from '../config.ts';
import type { Principal } from '../identity/index.ts';
import type { Inventory } from '../inventory/index.ts';
import type { Logger, Metrics } from '../observability/index.ts';
import { doorCounts } from '../scanning/door-counts.ts';
import { createRedis, type Redis, type Sql } from '../store/index.ts';
import { availabilityCuts, seatStateIndex } from './availability-cut.ts';
import { ChangeCoalescer, type SeatState } from './coalescer.ts';
import { connectionLink, socketMessageSpans } from '../observability/message-spans.ts';
import { trackConnections } from './reconnect-elsewhere.ts';
import { messageBudget } from './message-budget.ts';

export interface PurchaseUpdate {
  purchaseId: string;
  eventId: string;
  state: string;
  version: number;
  holdExpiresAt: string | null;
}

export interface LiveAttachDeps {
  httpServer: HttpServer;
  sql: Sql;
  inventory: Inventory;
  seatStates: SeatStates;
  authenticate: (authorization: string | undefined) => Promise<Principal>;
  /** Fills Redis counts that are missing (a new event, or after a flush). */
  rebuildCounts: (eventId: string) => Promise<void>;
}

interface Snapshot {
  eventId: string;
  version: number;
  counts: Record<string, number>;
  seats: { held: string[]; sold: string[] };
}

const watchSchema = z.object({ eventId: z.guid() }).strict();
/** A socket whose outgoing buffer holds more than this many packets is not reading: it is dropped. */
const SLOW_CONSUMER_PACKETS = 500;
/** Per socket: a burst of this many messages, refilled at this many per second. */
const MESSAGE_BURST = 20;
const MESSAGES_PER_SECOND = 10;
const SNAPSHOT_CACHE_MS = 250;
/** How often a node looks for changes recorded in Redis that no node sent (their node died). */
const ADOPT_CHECK_MS = 1_000;
/** How long clients get to answer the close of their connection at shutdown before it is cut. */
const CLOSE_GRACE_MS = 2_000;

function sameOrigin(origin: string, host: string | undefined): boolean {
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** Packets engine.io holds for a socket that it could not write yet (its public API has no getter). */
const pendingPackets = (socket: Socket): number => (socket.conn as unknown as { writeBuffer: unknown[] }).writeBuffer.length;

export function createLive({ config, redis, log, metrics }: { config: Config; redis: Redis; log: Logger; metrics?: Metrics }) {
  const coalescer = new ChangeCoalescer();
  const doorChanges = new ChangeCoalescer();
  const lastFlush = new Map<string, number>();
  const connectionsPerIp = new Map<string, number>();
  const typesCache = new Map<string, { at: number; ids: Promise<string[]> }>();
  const snapshotCache = new Map<string, { at: number; snapshot: Promise<Snapshot | null> }>();
  const cuts = availabilityCuts(redis, config.redis.keyPrefix);
  let io: Server | null = null;
  let connections: ReturnType<typeof trackConnections> | null = null;
  let shuttingDown = false;
  let deps: LiveAttachDeps | null = null;
  let adapterRedis: Redis | null = null;
  const adapterCopies: Redis[] = [];
  const timers: NodeJS.Timeout[] = [];
  let flushing: Promise<void> | null = null;
  let lastAdoptCheck = 0;
  const stats = { flushes: 0, messages: 0 };
  metrics?.readFrom({ watchersConnected: () => io?.engine.clientsCount ?? 0 });

  const room = (eventId: string) => `event:${eventId}`;
  const localWatchers = (eventId: string) => io?.sockets.adapter.rooms.get(room(eventId))?.size ?? 0;
  /** The interval an event's updates wait: the base, or longer when its audience would exceed the budget. */
  const intervalFor = (eventId: string) => Math.max(config.live.intervalMs, (localWatchers(eventId) * 1000) / config.live.deliveriesPerSecond);

  async function ticketTypesOf(eventId: string): Promise<string[]> {
    const cached = typesCache.get(eventId);
    if (cached && Date.now() - cached.at < 5_000) return cached.ids;
    const ids = deps!.sql<{ id: string }[]>`select id from ticket_types where event_id = ${eventId} order by sort_order, name`.then((rows) =>
      rows.map((r) => r.id),
    );
    typesCache.set(eventId, { at: Date.now(), ids });
    return ids;
  }

  /** Counts Redis lacks (a new event, or after a flush) are rebuilt from PostgreSQL, then read again. */
  async function filled(eventId: string, counts: Record<string, number | null>): Promise<Record<string, number>> {
    if (Object.values(counts).some((n) => n === null)) {
      await deps!.rebuildCounts(eventId);
      counts = await deps!.inventory.available(eventId, Object.keys(counts));
    }
    return Object.fromEntries(Object.entries(counts).map(([id, n]) => [id, n ?? 0]));
  }

  /**
   * The version and counts are one cut, taken before the seats are read: any change after it comes
   * in an update with a higher version, which applies on top. Held seats are the ones PostgreSQL's
   * live purchases claim that the Redis gate holds too (a purchase still reserving, or refused,
   * has no hold there).
   */
  async function snapshot(eventId: string): Promise<Snapshot | null> {
    const [event] = await deps!.sql<{ status: string }[]>`select status from events where id = ${eventId}`;
    if (!event || event.status === 'draft') return null;
    const cut = await cuts.current(eventId, await ticketTypesOf(eventId));
    const [available, seats] = await Promise.all([filled(eventId, cut.counts), deps!.seatStates(eventId)]);
    const claimed = [...seats.held].filter((seat) => !seats.sold.has(seat));
    const owners = await deps!.inventory.seatOwners(eventId, claimed);
    const sold = [...seats.sold];
    const held: string[] = [];
    claimed.forEach((seat, i) => {
      const state = seatStateIndex(owners[i] ?? null);
      if (state === 1) held.push(seat);
      else if (state === 2) sold.push(seat);
    });
    return { eventId, version: cut.version, counts: available, seats: { held, sold } };
  }

  /** Many watchers arriving together share one snapshot read, as long as no update went out since. */
  async function cachedSnapshot(eventId: string): Promise<Snapshot | null> {
    const cached = snapshotCache.get(eventId);
    if (cached && Date.now() - cached.at < SNAPSHOT_CACHE_MS) {
      const [snap, version] = await Promise.all([cached.snapshot.catch(() => undefined), cuts.version(eventId)]);
      if (snap === null || (snap && snap.version === version)) return snap;
    }
    const fresh = snapshot(eventId);
    snapshotCache.set(eventId, { at: Date.now(), snapshot: fresh });
    fresh.catch(() => snapshotCache.delete(eventId));
    return fresh;
  }

  /** One coalesced update: a new version, and the counts and changed seats as they stand at it. */
  async function send(eventId: string, since: number, seatIds: string[]): Promise<void> {
    const cut = await cuts.next(eventId, await ticketTypesOf(eventId), seatIds);
    // `since`: when the oldest change in this update happened (clients may show staleness; the
    // load test measures change-to-screen time with it).
    const update = { eventId, version: cut.version, since, counts: await filled(eventId, cut.counts), seats: cut.seats };
    io?.to(room(eventId)).emit('availability', update);
    metrics?.broadcastLag.observe((Date.now() - since) / 1000);
    stats.flushes++;
    stats.messages += localWatchers(eventId);
  }

  /**
   * Changes another node recorded but never sent (it died between the change and its update):
   * events watched here that have some are due for an update, sent from here.
   */
  async function adoptUnsentChanges(now: number): Promise<void> {
    if (now - lastAdoptCheck < ADOPT_CHECK_MS || !io) return;
    lastAdoptCheck = now;
    const watched = [...io.sockets.adapter.rooms.keys()].filter((name) => name.startsWith('event:')).map((name) => name.slice('event:'.length));
    const pending = new Set(coalescer.pendingEvents());
    const found = await Promise.all(watched.filter((eventId) => !pending.has(eventId)).map(async (eventId) => ((await cuts.hasChanges(eventId)) ? eventId : null)));
    for (const eventId of found) if (eventId) coalescer.note(eventId, [], now);
  }

  async function flush(): Promise<void> {
    if (!io || !deps) return;
    const now = Date.now();
    await adoptUnsentChanges(now);
    for (const { eventId } of doorChanges.take()) io.to(`doors:${eventId}`).emit('doors', await doorCounts(deps.sql, eventId));
    const due = coalescer.take((eventId) => now - (lastFlush.get(eventId) ?? 0) >= intervalFor(eventId));
    for (const { eventId, since, seatIds } of due) {
      lastFlush.set(eventId, now);
      snapshotCache.delete(eventId);
      try {
        await send(eventId, since, seatIds);
      } catch (err) {
        // Not sent: the changes wait for the next flush (a lost seat change would stay stale).
        coalescer.note(eventId, seatIds, since);
        log.warn({ err, eventId }, 'live update failed');
      }
    }
  }

  /**
   * Joins the event's room, then reads the snapshot: every update with a higher version than the
   * snapshot's is sent after the join, so none falls between the two. Answers the snapshot or an error.
   */
  async function watch(socket: Socket, eventId: string): Promise<object> {
    const watching = socket.rooms.has(room(eventId));
    const leave = async () => {
      if (!watching) await socket.leave(room(eventId));
    };
    try {
      await socket.join(room(eventId));
      const snap = await cachedSnapshot(eventId);
      if (snap) return snap;
      await leave();
      return { error: { code: 'not_found', message: 'event not found' } };
    } catch (err) {
      log.warn({ err, eventId }, 'live snapshot failed');
      await leave().catch(() => undefined);
      return { error: { code: 'service_unavailable', message: 'try again' } };
    }
  }

  function onConnection(socket: Socket): void {
    const ip = socket.handshake.address;
    socket.use(socketMessageSpans(connectionLink(socket.handshake.headers), { 'boxoffice.socket.id': socket.id }));
    const allow = messageBudget(MESSAGE_BURST, MESSAGES_PER_SECOND);
    const refuse = (code: string, message: string) => socket.emit('live_error', { code, message });
    let cut = false;
    const guard = (): boolean => {
      if (cut) return false;
      if (allow()) return true;
      cut = true;
      refuse('rate_limited', 'too many messages; disconnected');
      // Let the notice leave before the connection closes.
      setTimeout(() => socket.disconnect(true), 50).unref();
      return false;
    };
    socket.on('disconnect', () => {
      const left = (connectionsPerIp.get(ip) ?? 1) - 1;
      if (left <= 0) connectionsPerIp.delete(ip);
      else connectionsPerIp.set(ip, left);
    });
    const user = socket.data as { userId?: string };
    if (user.userId) void socket.join(`user:${user.userId}`);

    socket.on('watch', (payload: unknown, ack?: unknown) => {
      if (!guard()) return;
      const reply = typeof ack === 'function' ? (ack as (body: unknown) => void) : (body: unknown) => socket.emit('snapshot', body);
      const parsed = watchSchema.safeParse(payload);
      if (!parsed.success) return reply({ error: { code: 'validation_failed', message: 'watch needs { eventId }' } });
      const { eventId } = parsed.data;
      const watched = [...socket.rooms].filter((r) => r.startsWith('event:'));
      if (!socket.rooms.has(room(eventId)) && watched.length >= config.live.maxWatchesPerSocket) {
        return reply({ error: { code: 'conflict', message: `watch at most ${config.live.maxWatchesPerSocket} events at once` } });
      }
      void watch(socket, eventId).then(reply);
    });

    // Organizers (of the event) and admins: live door counts while the doors are open.
    socket.on('watchDoors', (payload: unknown, ack?: unknown) => {
      if (!guard()) return;
      const reply = typeof ack === 'function' ? (ack as (body: unknown) => void) : () => {};
      const parsed = watchSchema.safeParse(payload);
      const who = socket.data as { userId?: string; role?: string };
      if (!parsed.success) return reply({ error: { code: 'validation_failed', message: 'watchDoors needs { eventId }' } });
      if (!who.userId) return reply({ error: { code: 'unauthorized', message: 'sign in as the event\'s organizer' } });
      const { eventId } = parsed.data;
      deps!
        .sql<{ organizer_id: string }[]>`select organizer_id from events where id = ${eventId}`
        .then(async ([event]) => {
          if (!event || (who.role !== 'admin' && event.organizer_id !== who.userId)) return reply({ error: { code: 'not_found', message: 'event not found' } });
          await socket.join(`doors:${eventId}`);
          reply(await doorCounts(deps!.sql, eventId));
        })
        .catch(() => reply({ error: { code: 'service_unavailable', message: 'try again' } }));
    });

    socket.on('unwatch', (payload: unknown) => {
      if (!guard()) return;
      const parsed = watchSchema.safeParse(payload);
      if (parsed.success) void socket.leave(room(parsed.data.eventId));
    });
  }

  return {
    /**
     * An event's availability changed; seats named here go out as a diff. Call it once the change is
     * in Redis: the update reads the seats' states from there, at its own version.
     */
    changed(eventId: string, seats: Iterable<readonly [string, SeatState]> = []): void {
      coalescer.note(eventId, Array.from(seats, ([seatId]) => seatId));
    },

    /** A buyer's purchase moved: tell that buyer (every node, every tab). */
    purchaseChanged(customerId: string, update: PurchaseUpdate): void {
      io?.to(`user:${customerId}`).emit('purchase', update);
    },

    /** A ticket of the event was admitted: organizers watching its doors are told (coalesced). */
    admitted(eventId: string): void {
      doorChanges.note(eventId);
    },

    stats: () => ({ ...stats, sockets: io?.sockets.sockets.size ?? 0 }),

    attach(attachDeps: LiveAttachDeps): Server {
      deps = attachDeps;
      adapterRedis = createRedis({ target: config.redis.target, role: 'worker', name: 'boxoffice-live' });
      // The adapter makes its own copies of this connection (a blocking stream reader, a subscriber)
      // and drops them only after its next read returns; keep them, so close() can drop them now.
      // (One Redis and a cluster duplicate with different arguments; the adapter passes none.)
      const duplicable = adapterRedis as { duplicate: (...args: never[]) => Redis };
      const copy = duplicable.duplicate.bind(adapterRedis);
      duplicable.duplicate = (...args) => {
        const client = copy(...args);
        adapterCopies.push(client);
        return client;
      };
      const allowed = new Set(config.http.corsOrigins);
      io = new Server(attachDeps.httpServer, {
        path: '/socket.io',
        serveClient: false,
        // Other upgrades (the scanners' /scanner/v1) are answered elsewhere: leave them alone.
        destroyUpgrade: false,
        maxHttpBufferSize: 4 * 1024,
        cors: { origin: [...allowed], credentials: false },
        connectionStateRecovery: { maxDisconnectionDuration: 2 * 60 * 1000, skipMiddlewares: true },
        adapter: createAdapter(adapterRedis, {
          streamName: `${config.redis.keyPrefix}:live`,
          // Sessions kept for recovery (a client sent to another node) live under the deployment's prefix too.
          sessionKeyPrefix: `${config.redis.keyPrefix}:live-session:`,
          maxLen: 10_000,
        }),
        allowRequest: (req, callback) => {
          // Shutting down: a new connection belongs on another node.
          if (shuttingDown) return callback('shutting down', false);
          // The page's own origin (the web client served by this server) or one on the allowlist.
          const origin = req.headers.origin;
          if (origin && !allowed.has(origin) && !sameOrigin(origin, req.headers.host)) return callback('origin not allowed', false);
          const ip = req.socket.remoteAddress ?? 'unknown';
          const open = connectionsPerIp.get(ip) ?? 0;
          if (open >= config.live.maxConnectionsPerIp) return callback('too many connections from this address', false);
          callback(null, true);
        },
      });
      io.use((socket, next) => {
        const ip = socket.handshake.address;
        connectionsPerIp.set(ip, (connectionsPerIp.get(ip) ?? 0) + 1);
        const token = (socket.handshake.auth as { token?: unknown }).token;
        if (typeof token !== 'string' || token === '') return next();
        attachDeps
          .authenticate(`Bearer ${token}`)
          .then((principal) => {
            if (principal.kind === 'user') Object.assign(socket.data as object, { userId: principal.userId, role: principal.role });
            next();
          })
          .catch(() => {
            const left = (connectionsPerIp.get(ip) ?? 1) - 1;
            connectionsPerIp.set(ip, left);
            next(new Error('unauthorized'));
          });
      });
      connections = trackConnections(io);
      io.on('connection', onConnection);

      const tick = () => {
        flushing ??= flush()
          .catch((err: unknown) => log.warn({ err }, 'live flush failed'))
          .finally(() => (flushing = null));
      };
      timers.push(setInterval(tick, Math.max(10, Math.floor(config.live.intervalMs / 2))));
      // Sockets that stopped reading are dropped, so they cannot hold the node's memory.
      timers.push(
        setInterval(() => {
          for (const socket of io?.sockets.sockets.values() ?? []) {
            if (pendingPackets(socket) > SLOW_CONSUMER_PACKETS) socket.disconnect(true);
          }
        }, 1_000),
      );
      for (const t of timers) t.unref();
      return io;
    },

    async close(): Promise<void> {
      for (const t of timers) clearInterval(t);
      await flushing;
      shuttingDown = true;
      if (io) {
        // Clients reconnect elsewhere (not disconnectSockets, which would tell them to stay away).
        await connections?.closeAll(CLOSE_GRACE_MS);
        await new Promise<void>((resolve) => io!.close(() => resolve()));
      }
      // A copy still connecting would reject the adapter's own connect() if cut now: let it finish.
      await Promise.all(
        adapterCopies.map((client) =>
          client.status === 'ready' || client.status === 'end'
            ? Promise.resolve()
            : new Promise<void>((resolve) => {
                client.once('ready', () => resolve());
                setTimeout(resolve, 1_000).unref();
              }),
        ),
      );
      // The adapter's own client may still be storing sessions of the clients just sent away (for
      // recovery on another node), perhaps while it connects: let those writes finish (bounded).
      // Its copies only block on reads.
      const client = adapterRedis;
      if (client && client.status !== 'wait' && client.status !== 'end') {
        let timer: NodeJS.Timeout | undefined;
        const drained = (async () => {
          // QUIT before the connection is ready would drop what waits in the offline queue.
          if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
          await client.quit();
        })();
        await Promise.race([drained.catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)))]);
        clearTimeout(timer);
      }
      client?.disconnect();
      for (const client of adapterCopies) client.disconnect();
    },
  };
}

export type Live = ReturnType<typeof createLive>;
