import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChangeCoalescer } from './coalescer.ts';

describe('ChangeCoalescer', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000 }));
  afterEach(() => vi.useRealTimers());

  it('gathers the seats that changed per event, with the time of the oldest change', () => {
    const changes = new ChangeCoalescer();
    changes.note('e1', ['s1', 's2']);
    vi.advanceTimersByTime(50);
    changes.note('e1', ['s2', 's3']);
    changes.note('e2');
    expect(changes.size).toBe(2);
    expect(changes.take((eventId) => eventId === 'e1')).toEqual([{ eventId: 'e1', since: 1_000, seatIds: ['s1', 's2', 's3'] }]);
    expect(changes.take()).toEqual([{ eventId: 'e2', since: 1_050, seatIds: [] }]);
    expect(changes.size).toBe(0);
  });

  it('changes given back after a failed flush keep their age', () => {
    const changes = new ChangeCoalescer();
    vi.advanceTimersByTime(500);
    changes.note('e1', ['s9']);
    changes.note('e1', ['s1'], 1_000);
    expect(changes.take()).toEqual([{ eventId: 'e1', since: 1_000, seatIds: ['s9', 's1'] }]);
  });
});
