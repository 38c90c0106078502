// Live watchers, as the buyer's page watches an event: a snapshot, then versioned updates applied
// in any order, the newest version of each seat winning (clients/sdk/availability-view.ts; a
// version that never comes re-syncs from a fresh snapshot). Each arrival is noted per (event, version) with
// the update's `since` (when its oldest change happened on the server), so the parent can tell
// how long the last watcher waited; at the end each watcher's view is compared with the truth.
import { createHash } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import { AvailabilityView, type AvailabilitySnapshot, type AvailabilityUpdate } from '../../clients/sdk/availability-view.ts';

interface Snapshot extends AvailabilitySnapshot {
  error?: { code: string };
}
interface Update extends AvailabilityUpdate {
  eventId: string;
  since: number;
}

export interface Arrival {
  eventId: string;
  version: number;
  since: number;
  first: number;
  last: number;
  receipts: number;
}

/** What some watchers of an event show alike: counts per ticket type, held seats, sold seats (a digest). */
export interface ViewSummary {
  eventId: string;
  counts: Record<string, number>;
  held: number;
  soldDigest: string;
  watchers: number;
}

export interface WatcherReport {
  connected: number;
  failed: number;
  disconnected: number;
  resyncs: number;
  arrivals: Arrival[];
  views: ViewSummary[];
}

/** A short digest of a set of seat ids (order does not matter). */
export function soldSeatsDigest(seatIds: readonly string[]): string {
  return `${seatIds.length}:${createHash('sha1').update([...seatIds].sort().join(',')).digest('hex').slice(0, 12)}`;
}

/** Watchers showing the same thing, counted once. */
function grouped(views: Omit<ViewSummary, 'watchers'>[]): ViewSummary[] {
  const groups = new Map<string, ViewSummary>();
  for (const view of views) {
    const key = JSON.stringify(view);
    const group = groups.get(key);
    if (group) group.watchers++;
    else groups.set(key, { ...view, watchers: 1 });
  }
  return [...groups.values()];
}

class Watcher {
  readonly view = new AvailabilityView();
  #syncing = false;
  #gapTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    readonly socket: Socket,
    readonly eventId: string,
    readonly onResync: () => void,
  ) {}

  async sync(): Promise<boolean> {
    if (this.#syncing) return true;
    this.#syncing = true;
    try {
      const snap = (await this.socket.timeout(15_000).emitWithAck('watch', { eventId: this.eventId })) as Snapshot;
      if (snap.error) return false;
      // Updates newer than the snapshot that arrived while it was on its way stay applied.
      this.view.applySnapshot(snap);
      return true;
    } catch {
      return false;
    } finally {
      this.#syncing = false;
      this.#watchGap();
    }
  }

  apply(u: Update): void {
    if (u.eventId !== this.eventId) return;
    this.view.applyUpdate(u);
    if (this.view.resyncDue()) this.#resync();
    else this.#watchGap();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#gapTimer);
    this.socket.disconnect();
  }

  /** A version outrun by later ones gets a grace to arrive; after that, re-sync. */
  #watchGap(): void {
    clearTimeout(this.#gapTimer);
    const at = this.view.resyncCheckAt;
    if (at === null || this.#closed) return;
    this.#gapTimer = setTimeout(() => (this.view.resyncDue() ? this.#resync() : this.#watchGap()), Math.max(0, at - Date.now()));
    this.#gapTimer.unref();
  }

  #resync(): void {
    if (this.#syncing) return;
    this.onResync();
    void this.sync();
  }

  summary(): Omit<ViewSummary, 'watchers'> {
    const sold = [...this.view.seats].filter(([, s]) => s === 2).map(([id]) => id);
    const counts = Object.fromEntries(Object.entries(this.view.counts).sort(([a], [b]) => a.localeCompare(b)));
    return { eventId: this.eventId, counts, held: this.view.seats.size - sold.length, soldDigest: soldSeatsDigest(sold) };
  }
}

/** Opens watchers (paced, so a thousand do not knock at once), each on its node and event. */
export async function openWatchers(assignments: readonly { url: string; eventId: string }[], deadline: number) {
  const arrivals = new Map<string, Arrival>();
  const watchers: Watcher[] = [];
  const stats = { connected: 0, failed: 0, disconnected: 0, resyncs: 0 };
  const opening: Promise<void>[] = [];
  for (const [i, { url, eventId }] of assignments.entries()) {
    if (Date.now() > deadline) break;
    const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, timeout: 15_000 });
    const watcher = new Watcher(socket, eventId, () => stats.resyncs++);
    socket.on('availability', (u: Update) => {
      const at = performance.timeOrigin + performance.now();
      const key = `${u.eventId}:${u.version}`;
      const seen = arrivals.get(key);
      if (seen) {
        seen.last = Math.max(seen.last, at);
        seen.receipts++;
      } else arrivals.set(key, { eventId: u.eventId, version: u.version, since: u.since, first: at, last: at, receipts: 1 });
      watcher.apply(u);
    });
    socket.on('disconnect', () => stats.disconnected++);
    opening.push(
      new Promise<void>((resolve) => {
        socket.once('connect', () => {
          void watcher.sync().then((ok) => {
            if (ok) {
              stats.connected++;
              watchers.push(watcher);
            } else stats.failed++;
            resolve();
          });
        });
        socket.once('connect_error', () => {
          stats.failed++;
          resolve();
        });
      }),
    );
    if (i % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await Promise.all(opening);
  return {
    report(): WatcherReport {
      return { ...stats, arrivals: [...arrivals.values()], views: grouped(watchers.map((w) => w.summary())) };
    },
    /** Forget arrivals so far (the ones before the storm are not part of it). */
    resetArrivals: () => arrivals.clear(),
    close() {
      for (const w of watchers) w.close();
    },
  };
}
