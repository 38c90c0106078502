// An event's live availability as a watcher keeps it: a snapshot, then `availability` updates that
// may arrive in any order (each node sends its own, through the Redis adapter). An update carries
// the counts and the states of the seats it names as they stood at its version, read together with
// the version in one Redis transaction, so the newest version wins: counts from the newest update
// or snapshot, each seat from the newest that named it. Nothing is dropped for being late, and a
// version is only missed when it has not come long after the ones around it (then: re-sync).
// Pure: no sockets, no DOM; the web page, the load test and the tests share it.

export interface AvailabilitySnapshot {
  version: number;
  counts: Record<string, number>;
  seats: { held: readonly string[]; sold: readonly string[] };
}

export interface AvailabilityUpdate {
  version: number;
  counts: Record<string, number>;
  /** [seatId, 0 free / 1 held / 2 sold] */
  seats: readonly (readonly [string, number])[];
}

/** How long a version may be outrun by later ones before it counts as lost (a re-sync is due). */
export const GAP_GRACE_MS = 5_000;
/** More versions missing than this at once: re-sync now rather than wait for each. */
const MAX_MISSING = 1_000;

export class AvailabilityView {
  /** The newest version seen (the counts are its). */
  version = -1;
  counts: Record<string, number> = {};
  /** seat id -> 1 held, 2 sold (absent: free) */
  readonly seats = new Map<string, number>();
  /** The last snapshot's version: a seat without an entry in #seatVersions stands as of it. */
  #base = -1;
  #seatVersions = new Map<string, number>();
  /** Every version up to this one has arrived (or is covered by the snapshot). */
  #contiguous = -1;
  /** Versions above #contiguous that arrived. */
  #ahead = new Set<number>();
  /** Since when the lowest missing version (#contiguous + 1) has been missing, epoch ms. */
  #missingSince: number | null = null;

  /** A snapshot has been applied: the view can be shown. */
  get ready(): boolean {
    return this.#base >= 0;
  }

  /** Versions later ones have outrun, not yet arrived. */
  get missing(): number {
    if (!this.#ahead.size) return 0;
    return Math.max(...this.#ahead) - this.#contiguous - this.#ahead.size;
  }

  /** Applies a snapshot; seats that a newer update already named keep that update's state. */
  applySnapshot(snap: AvailabilitySnapshot, now: number = Date.now()): boolean {
    if (snap.version < this.#base) return false;
    const fresh = new Map<string, number>();
    for (const seat of snap.seats.held) fresh.set(seat, 1);
    for (const seat of snap.seats.sold) fresh.set(seat, 2);
    for (const [seat, version] of this.#seatVersions) {
      if (version <= snap.version) {
        this.#seatVersions.delete(seat);
        continue;
      }
      const state = this.seats.get(seat);
      if (state === undefined) fresh.delete(seat);
      else fresh.set(seat, state);
    }
    this.seats.clear();
    for (const [seat, state] of fresh) this.seats.set(seat, state);
    this.#base = snap.version;
    if (snap.version >= this.version) {
      this.version = snap.version;
      this.counts = { ...snap.counts };
    }
    this.#arrived(snap.version, now, true);
    return true;
  }

  /** Applies an update, whatever its order; true when anything shown changed. */
  applyUpdate(update: AvailabilityUpdate, now: number = Date.now()): boolean {
    let changed = false;
    if (update.version > this.version) {
      this.version = update.version;
      this.counts = { ...update.counts };
      changed = true;
    }
    for (const [seat, state] of update.seats) {
      if (update.version <= (this.#seatVersions.get(seat) ?? this.#base)) continue;
      this.#seatVersions.set(seat, update.version);
      if (state === 0) this.seats.delete(seat);
      else this.seats.set(seat, state);
      changed = true;
    }
    this.#arrived(update.version, now, false);
    return changed;
  }

  /**
   * Whether a re-sync is due: a version stayed missing for `GAP_GRACE_MS` while later ones came
   * (an update lost on its way), or too many are missing at once.
   */
  resyncDue(now: number = Date.now()): boolean {
    if (!this.ready || this.#missingSince === null) return false;
    return now - this.#missingSince >= GAP_GRACE_MS || this.missing > MAX_MISSING;
  }

  /** When resyncDue() may next turn true (epoch ms), or null while nothing is missing. */
  get resyncCheckAt(): number | null {
    return this.ready && this.#missingSince !== null ? this.#missingSince + GAP_GRACE_MS : null;
  }

  #arrived(version: number, now: number, covers: boolean): void {
    const lowestMissing = this.#contiguous + 1;
    if (covers) {
      // A snapshot covers every version up to its own.
      this.#contiguous = Math.max(this.#contiguous, version);
      for (const v of this.#ahead) if (v <= this.#contiguous) this.#ahead.delete(v);
    } else if (version > this.#contiguous) this.#ahead.add(version);
    // Before the first snapshot, versions are only gathered (the snapshot says where to start).
    if (!this.ready) return;
    while (this.#ahead.delete(this.#contiguous + 1)) this.#contiguous++;
    if (!this.#ahead.size) this.#missingSince = null;
    else if (this.#missingSince === null || this.#contiguous + 1 !== lowestMissing) this.#missingSince = now;
  }
}
