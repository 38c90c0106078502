import { describe, expect, it } from 'vitest';
import { AvailabilityView, GAP_GRACE_MS, type AvailabilitySnapshot, type AvailabilityUpdate } from './availability-view.ts';

const snap = (version: number, held: string[] = [], sold: string[] = [], counts = { ga: 10 }): AvailabilitySnapshot => ({ version, counts, seats: { held, sold } });
const update = (version: number, seats: [string, number][] = [], counts = { ga: 10 - version }): AvailabilityUpdate => ({ version, counts, seats });
const shown = (view: AvailabilityView) => ({ version: view.version, counts: view.counts, seats: Object.fromEntries([...view.seats].sort()) });

describe('AvailabilityView', () => {
  it('ends on the same view whatever order the updates come in', () => {
    const updates = [update(6, [['s1', 1]]), update(7, [['s1', 0], ['s2', 1]]), update(8, [['s2', 2], ['s3', 1]]), update(9, [['s3', 0]])];
    const orders = [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]];
    const views = orders.map((order) => {
      const view = new AvailabilityView();
      view.applySnapshot(snap(5, ['s4']), 0);
      for (const i of order) view.applyUpdate(updates[i]!, 0);
      return view;
    });
    for (const view of views) {
      expect(shown(view)).toEqual({ version: 9, counts: { ga: 1 }, seats: { s2: 2, s4: 1 } });
      expect(view.missing).toBe(0);
      expect(view.resyncDue(0)).toBe(false);
    }
  });

  it('keeps what updates newer than a snapshot said, and takes the snapshot for the rest', () => {
    const view = new AvailabilityView();
    // Updates before the first snapshot: gathered, not shown yet.
    expect(view.applyUpdate(update(4, [['s1', 1]]), 0)).toBe(true);
    view.applyUpdate(update(7, [['s2', 2]]), 0);
    expect(view.ready).toBe(false);
    view.applySnapshot(snap(5, ['s2', 's3'], ['s1'], { ga: 5 }), 0);
    expect(view.ready).toBe(true);
    // s1: the snapshot (5) is newer than update 4; s2: update 7 is newer than the snapshot.
    expect(shown(view)).toEqual({ version: 7, counts: { ga: 3 }, seats: { s1: 2, s2: 2, s3: 1 } });
    // Version 6 is still to come: a late update older than the seat's newest changes nothing there.
    expect(view.missing).toBe(1);
    view.applyUpdate(update(6, [['s2', 0], ['s3', 0]]), 0);
    expect(shown(view)).toEqual({ version: 7, counts: { ga: 3 }, seats: { s1: 2, s2: 2 } });
    expect(view.missing).toBe(0);
    // An update at or below the snapshot's version changes nothing, and a repeat neither.
    expect(view.applyUpdate(update(5, [['s3', 1]]), 0)).toBe(false);
    expect(view.applyUpdate(update(6, [['s3', 0]]), 0)).toBe(false);
  });

  it('a re-sync snapshot keeps seats named by updates newer than it, and forgets older ones', () => {
    const view = new AvailabilityView();
    view.applySnapshot(snap(1), 0);
    view.applyUpdate(update(2, [['a', 1]]), 0);
    view.applyUpdate(update(4, [['b', 1]]), 0);
    view.applySnapshot(snap(3, [], ['a'], { ga: 9 }), 0);
    expect(shown(view)).toEqual({ version: 4, counts: { ga: 6 }, seats: { a: 2, b: 1 } });
    // An older snapshot than the one applied is ignored.
    expect(view.applySnapshot(snap(2), 0)).toBe(false);
  });

  it('asks for a re-sync only once a version stayed missing for the grace', () => {
    const view = new AvailabilityView();
    view.applySnapshot(snap(1), 1_000);
    view.applyUpdate(update(3), 1_000);
    expect(view.missing).toBe(1);
    expect(view.resyncCheckAt).toBe(1_000 + GAP_GRACE_MS);
    expect(view.resyncDue(1_000 + GAP_GRACE_MS - 1)).toBe(false);
    // A later version neither resets nor shortens the wait for the same missing one.
    view.applyUpdate(update(4), 2_000);
    expect(view.resyncCheckAt).toBe(1_000 + GAP_GRACE_MS);
    expect(view.resyncDue(1_000 + GAP_GRACE_MS)).toBe(true);
    // The missing version came late after all: nothing is due.
    view.applyUpdate(update(2), 7_000);
    expect(view.missing).toBe(0);
    expect(view.resyncCheckAt).toBeNull();
    expect(view.resyncDue(100_000)).toBe(false);
  });

  it('a snapshot fills the gaps below its version', () => {
    const view = new AvailabilityView();
    view.applySnapshot(snap(1), 0);
    view.applyUpdate(update(3), 0);
    view.applyUpdate(update(6), 0);
    expect(view.missing).toBe(3);
    view.applySnapshot(snap(4), 10_000);
    // 5 is still missing (6 came), and waits its own grace from now.
    expect(view.missing).toBe(1);
    expect(view.resyncCheckAt).toBe(10_000 + GAP_GRACE_MS);
    view.applySnapshot(snap(6), 10_000);
    expect(view.missing).toBe(0);
    expect(view.resyncDue(1e9)).toBe(false);
  });

  it('re-syncs at once when too many versions are missing', () => {
    const view = new AvailabilityView();
    view.applySnapshot(snap(1), 0);
    view.applyUpdate(update(5_000), 0);
    expect(view.resyncDue(0)).toBe(true);
  });
});
