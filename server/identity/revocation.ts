// Revoked sessions, known to every node at once: a Redis key per revoked session id, kept as long
// as an access token of that session can still be alive. Checked on every authenticated request
// (one GET), so logout is immediate everywhere and not only when the JWT expires.
import type { Redis } from '../store/index.ts';

export interface Revocations {
  revoke(sessionIds: readonly string[]): Promise<void>;
  isRevoked(sessionId: string): Promise<boolean>;
}

export function createRevocations(redis: Redis, options: { keyPrefix: string; accessTtlSeconds: number }): Revocations {
  const key = (sid: string) => `${options.keyPrefix}:auth:revoked-session:${sid}`;
  // Outlive the longest-lived access token of the session, clock tolerance included.
  const ttl = options.accessTtlSeconds + 60;
  return {
    async revoke(sessionIds) {
      // One SET per session, not one MULTI: the sessions' keys fall in different Redis Cluster
      // slots, and each mark stands on its own (a retried logout repeats them harmlessly).
      await Promise.all(sessionIds.map((sid) => redis.set(key(sid), '1', 'EX', ttl)));
    },
    async isRevoked(sessionId) {
      return (await redis.exists(key(sessionId))) === 1;
    },
  };
}
