// Live availability and purchase updates over Socket.IO: a watched event starts from a snapshot,
// then applies updates with a higher version; a gap (a version skipped) or a reconnect that could
// not recover its session re-syncs from a fresh snapshot.
import { io, type Socket } from 'socket.io-client';
import { token } from './api.ts';

export interface Availability {
  version: number;
  counts: Record<string, number>;
  /** seat id -> 0 free, 1 held, 2 sold (absent: free) */
  seats: Map<string, number>;
}

interface Snapshot {
  version: number;
  counts: Record<string, number>;
  seats: { held: string[]; sold: string[] };
  error?: { code: string; message: string };
}
interface Update {
  eventId: string;
  version: number;
  counts: Record<string, number>;
  seats: [string, number][];
}

let shared: Socket | null = null;

export function liveSocket(): Socket {
  if (shared) return shared;
  const bearer = token.get();
  shared = io({ path: '/socket.io', transports: ['websocket'], ...(bearer ? { auth: { token: bearer } } : {}) });
  return shared;
}

/** Watches an event; `onChange` gets the whole current view after every change. Returns stop(). */
export function watchEvent(eventId: string, onChange: (view: Availability) => void): () => void {
  const socket = liveSocket();
  let view: Availability | null = null;
  let syncing = false;

  const sync = async () => {
    if (syncing) return;
    syncing = true;
    try {
      const snap = (await socket.emitWithAck('watch', { eventId })) as Snapshot;
      if (snap.error) return;
      const seats = new Map<string, number>();
      for (const s of snap.seats.held) seats.set(s, 1);
      for (const s of snap.seats.sold) seats.set(s, 2);
      // Updates that arrived while the snapshot was on its way and are newer still apply on top.
      view = { version: snap.version, counts: snap.counts, seats };
      onChange(view);
    } finally {
      syncing = false;
    }
  };
  const onUpdate = (u: Update) => {
    if (u.eventId !== eventId || !view || u.version <= view.version) return;
    const gap = u.version > view.version + 1;
    view.version = u.version;
    view.counts = u.counts;
    for (const [seat, state] of u.seats) {
      if (state === 0) view.seats.delete(seat);
      else view.seats.set(seat, state);
    }
    onChange(view);
    if (gap) void sync();
  };
  const onConnect = () => {
    if (!socket.recovered) void sync();
  };
  socket.on('availability', onUpdate);
  socket.on('connect', onConnect);
  if (socket.connected) void sync();
  return () => {
    socket.off('availability', onUpdate);
    socket.off('connect', onConnect);
    socket.emit('unwatch', { eventId });
  };
}

export function onPurchaseUpdate(handler: (update: { purchaseId: string; state: string; holdExpiresAt: string | null }) => void): () => void {
  const socket = liveSocket();
  socket.on('purchase', handler);
  return () => socket.off('purchase', handler);
}
