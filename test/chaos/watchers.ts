// Live watchers that behave as the buyer's page does behind a load balancer: a snapshot, then
// versioned updates (clients/sdk/availability-view.ts); when their connection drops they connect
// to another node (the balancer's choice, here the next one that answers) and watch again, taking
// a fresh snapshot when the session was not recovered. At the end each must show the truth.
import { io, type Socket } from 'socket.io-client';
import { AvailabilityView, type AvailabilitySnapshot, type AvailabilityUpdate } from '../../clients/sdk/availability-view.ts';
import type { Tally } from './crowd.ts';
import type { ChaosNode } from './nodes.ts';

interface Update extends AvailabilityUpdate {
  eventId: string;
}

export interface WatcherView {
  eventId: string;
  counts: Record<string, number>;
  held: string[];
  sold: string[];
}

class FailoverWatcher {
  readonly view = new AvailabilityView();
  socket: Socket | null = null;
  reconnects = 0;
  resyncs = 0;
  #closed = false;

  constructor(
    readonly nodes: readonly ChaosNode[],
    public node: number,
    readonly eventId: string,
    readonly tally: Tally,
  ) {}

  /** Connects to the current node (or, failing that, the next ones) and watches with a snapshot. */
  async connect(): Promise<boolean> {
    for (let attempt = 0; attempt < this.nodes.length * 3 && !this.#closed; attempt++) {
      const node = this.nodes[this.node % this.nodes.length]!;
      const t = this.tally.of('watch');
      t.attempted++;
      const ok = await this.#open(node);
      if (ok) {
        t.succeeded++;
        return true;
      }
      t.failedCleanly++;
      t.connectionErrors++;
      this.node++;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return false;
  }

  async #open(node: ChaosNode): Promise<boolean> {
    const socket = io(node.url, { transports: ['websocket'], reconnection: false, forceNew: true, timeout: 5_000 });
    const connected = await new Promise<boolean>((resolve) => {
      socket.once('connect', () => resolve(true));
      socket.once('connect_error', () => resolve(false));
    });
    if (!connected) {
      socket.close();
      return false;
    }
    socket.on('availability', (u: Update) => {
      if (u.eventId !== this.eventId) return;
      this.view.applyUpdate(u);
      if (this.view.resyncDue()) void this.#watch(socket);
    });
    socket.once('disconnect', () => {
      if (this.#closed) return;
      // The node went away: the balancer sends the page to another.
      this.reconnects++;
      this.node++;
      void this.connect();
    });
    this.socket = socket;
    return this.#watch(socket);
  }

  async #watch(socket: Socket): Promise<boolean> {
    try {
      const snap = (await socket.timeout(10_000).emitWithAck('watch', { eventId: this.eventId })) as AvailabilitySnapshot & { error?: unknown };
      if (snap.error) return false;
      this.resyncs++;
      this.view.applySnapshot(snap);
      return true;
    } catch {
      return false;
    }
  }

  /** A last snapshot-free look: what the page shows now. */
  shown(): WatcherView {
    const seats = [...this.view.seats];
    return {
      eventId: this.eventId,
      counts: { ...this.view.counts },
      held: seats.filter(([, s]) => s === 1).map(([id]) => id),
      sold: seats.filter(([, s]) => s === 2).map(([id]) => id),
    };
  }

  close(): void {
    this.#closed = true;
    this.socket?.close();
  }
}

/** `perNode` watchers of each event on each node. */
export async function openWatchers(nodes: readonly ChaosNode[], eventIds: readonly string[], perNode: number, tally: Tally) {
  const watchers: FailoverWatcher[] = [];
  for (let n = 0; n < nodes.length; n++) for (const eventId of eventIds) for (let i = 0; i < perNode; i++) watchers.push(new FailoverWatcher(nodes, n, eventId, tally));
  const connected = await Promise.all(watchers.map((w) => w.connect()));
  if (connected.includes(false)) throw new Error(`${connected.filter((c) => !c).length} watchers could not connect`);
  return {
    watchers,
    /** Watchers whose view differs from `truth` (per event), waiting up to `waitMs` for late updates. */
    async stale(truth: Record<string, WatcherView>, waitMs: number): Promise<string[]> {
      const until = Date.now() + waitMs;
      for (;;) {
        const wrong = watchers.flatMap((w, i) => {
          const want = truth[w.eventId]!;
          const shown = w.shown();
          const same =
            JSON.stringify(Object.entries(shown.counts).sort()) === JSON.stringify(Object.entries(want.counts).sort()) &&
            shown.held.length === 0 &&
            JSON.stringify(shown.sold.sort()) === JSON.stringify([...want.sold].sort());
          return same ? [] : [`watcher ${i} (event ${w.eventId}, on node ${(w.node % nodes.length) + 1}) shows ${JSON.stringify(shown.counts)}, ${shown.held.length} held, ${shown.sold.length} sold; truth ${JSON.stringify(want.counts)}, ${want.sold.length} sold`];
        });
        if (!wrong.length || Date.now() > until) return wrong;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    },
    reconnects: () => watchers.reduce((sum, w) => sum + w.reconnects, 0),
    close: () => watchers.forEach((w) => w.close()),
  };
}
