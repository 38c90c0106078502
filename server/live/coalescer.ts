// Changes to an event's availability, gathered between flushes: which events changed, and the
// latest state of each seat that changed. A flush takes everything gathered so far; at most one
// message per event per interval leaves a node.
export type SeatState = 'free' | 'held' | 'sold';

export const SEAT_STATE_INDEX: Readonly<Record<SeatState, number>> = { free: 0, held: 1, sold: 2 };

export class ChangeCoalescer {
  #pending = new Map<string, Map<string, SeatState>>();
  #since = new Map<string, number>();

  /** Records that `eventId` changed; seats named here travel as a diff (last state wins). */
  note(eventId: string, seats: Iterable<readonly [string, SeatState]> = []): void {
    let changes = this.#pending.get(eventId);
    if (!changes) {
      changes = new Map();
      this.#pending.set(eventId, changes);
      this.#since.set(eventId, Date.now());
    }
    for (const [seatId, state] of seats) changes.set(seatId, state);
  }

  /**
   * The events that changed, each with its seat diff as [seatId, stateIndex] pairs and the time of
   * its oldest change gathered (`since`, epoch ms); clears them.
   */
  take(ready: (eventId: string) => boolean = () => true): { eventId: string; since: number; seats: [string, number][] }[] {
    const out: { eventId: string; since: number; seats: [string, number][] }[] = [];
    for (const [eventId, changes] of this.#pending) {
      if (!ready(eventId)) continue;
      out.push({ eventId, since: this.#since.get(eventId) ?? Date.now(), seats: [...changes].map(([seat, state]) => [seat, SEAT_STATE_INDEX[state]]) });
      this.#pending.delete(eventId);
      this.#since.delete(eventId);
    }
    return out;
  }

  get size(): number {
    return this.#pending.size;
  }
}
