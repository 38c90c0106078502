// The pool's reconnect pace: after PostgreSQL has been away, a connection tries again within a
// second however many times the pool failed meanwhile (postgres.js's own default waits up to 20 s).
import { describe, expect, it } from 'vitest';
import { reconnectBackoff } from './postgres.ts';

describe('reconnectBackoff', () => {
  it('starts short, grows with failures, and never waits more than a second', () => {
    expect(reconnectBackoff(0)).toBeLessThanOrEqual(0.05);
    expect(reconnectBackoff(0)).toBeGreaterThanOrEqual(0.025);
    for (let failures = 0; failures <= 100; failures++) {
      const wait = reconnectBackoff(failures);
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(1);
    }
    expect(reconnectBackoff(30)).toBeGreaterThanOrEqual(0.5);
  });
});
