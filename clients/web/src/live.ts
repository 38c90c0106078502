// Live availability and purchase updates over Socket.IO: a watched event starts from a snapshot,
// then applies updates in whatever order they come from the server's nodes (the newest version of
// each seat wins: see clients/sdk/availability-view.ts). A version that never comes, or a reconnect
// that could not recover its session, re-syncs from a fresh snapshot.
import { io, type Socket } from 'socket.io-client';
import { AvailabilityView, type AvailabilitySnapshot, type AvailabilityUpdate } from '../../sdk/availability-view.ts';
import { token } from './api.ts';

export interface Availability {
  version: number;
  counts: Record<string, number>;
  /** seat id -> 0 free, 1 held, 2 sold (absent: free) */
  seats: Map<string, number>;
}

interface Snapshot extends AvailabilitySnapshot {
  error?: { code: string; message: string };
}
interface Update extends AvailabilityUpdate {
  eventId: string;
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
  const view = new AvailabilityView();
  let syncing = false;
  let stopped = false;
  let gapTimer: ReturnType<typeof setTimeout> | undefined;

  const sync = async () => {
    if (syncing) return;
    syncing = true;
    try {
      const snap = (await socket.emitWithAck('watch', { eventId })) as Snapshot;
      // Updates that came before the snapshot and are newer than it stay applied.
      if (!snap.error && view.applySnapshot(snap)) onChange(view);
    } finally {
      syncing = false;
      watchGap();
    }
  };
  /** A version outrun by later ones gets a grace to arrive; after that, re-sync. */
  const watchGap = () => {
    clearTimeout(gapTimer);
    const at = view.resyncCheckAt;
    if (at === null || stopped) return;
    gapTimer = setTimeout(() => (view.resyncDue() ? void sync() : watchGap()), Math.max(0, at - Date.now()));
  };
  const onUpdate = (u: Update) => {
    if (u.eventId !== eventId) return;
    const changed = view.applyUpdate(u);
    if (changed && view.ready) onChange(view);
    if (view.resyncDue()) void sync();
    else watchGap();
  };
  const onConnect = () => {
    if (!socket.recovered) void sync();
  };
  socket.on('availability', onUpdate);
  socket.on('connect', onConnect);
  if (socket.connected) void sync();
  return () => {
    stopped = true;
    clearTimeout(gapTimer);
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
