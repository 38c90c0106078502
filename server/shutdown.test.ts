// The drain delay: unready at once, steps only once the delay is over, all inside the deadline.
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createShutdown } from './shutdown.ts';

describe('shutdown drain delay', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('turns unready at once and runs the steps only after the delay', async () => {
    const exits: number[] = [];
    const ran: string[] = [];
    const lifecycle = createShutdown({ log: pino({ level: 'silent' }), timeoutMs: 10_000, drainDelayMs: 3_000, exit: (code) => void exits.push(code) });
    lifecycle.add({ name: 'http', run: () => Promise.resolve(void ran.push('http')) });
    const done = lifecycle.shutdown('SIGTERM');
    expect(lifecycle.isShuttingDown()).toBe(true);
    expect(lifecycle.isClosing()).toBe(false);
    await vi.advanceTimersByTimeAsync(2_999);
    expect(ran).toEqual([]);
    expect(lifecycle.isClosing()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await done).toBe(0);
    expect(ran).toEqual(['http']);
    expect(exits).toEqual([0]);
  });

  it('counts the delay against the deadline: a delay past it exits 1', async () => {
    const exits: number[] = [];
    const lifecycle = createShutdown({ log: pino({ level: 'silent' }), timeoutMs: 1_000, drainDelayMs: 5_000, exit: (code) => void exits.push(code) });
    lifecycle.add({ name: 'http', run: () => Promise.resolve() });
    const done = lifecycle.shutdown('SIGTERM');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await done).toBe(1);
    expect(exits).toEqual([1]);
  });
});
