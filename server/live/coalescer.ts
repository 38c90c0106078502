// Changes to an event's availability, gathered between flushes: which events changed, and which of
// their seats. A flush takes everything gathered so far; at most one message per event per
// interval leaves a node. The seats' states are not kept here: the flush reads them from Redis
// with the update's version (a state noted here may already be older than another node's update).
export type SeatState = 'free' | 'held' | 'sold';

export const SEAT_STATE_INDEX: Readonly<Record<SeatState, number>> = { free: 0, held: 1, sold: 2 };

export interface PendingChange {
  eventId: string;
  /** When the oldest change gathered happened, epoch ms. */
  since: number;
  seatIds: string[];
}

export class ChangeCoalescer {
  #pending = new Map<string, Set<string>>();
  #since = new Map<string, number>();

  /** Records that `eventId` changed, and these of its seats; `since` when a change comes back from a failed flush. */
  note(eventId: string, seatIds: Iterable<string> = [], since: number = Date.now()): void {
    let changes = this.#pending.get(eventId);
    if (!changes) {
      changes = new Set();
      this.#pending.set(eventId, changes);
    }
    this.#since.set(eventId, Math.min(since, this.#since.get(eventId) ?? since));
    for (const seatId of seatIds) changes.add(seatId);
  }

  /** The events that changed (those `ready` accepts), each with its changed seats; clears them. */
  take(ready: (eventId: string) => boolean = () => true): PendingChange[] {
    const out: PendingChange[] = [];
    for (const [eventId, seats] of this.#pending) {
      if (!ready(eventId)) continue;
      out.push({ eventId, since: this.#since.get(eventId) ?? Date.now(), seatIds: [...seats] });
      this.#pending.delete(eventId);
      this.#since.delete(eventId);
    }
    return out;
  }

  /** The events with changes gathered and not taken yet. */
  pendingEvents(): string[] {
    return [...this.#pending.keys()];
  }

  get size(): number {
    return this.#pending.size;
  }
}
