// The hook for the waiting-room scenario: events flagged high-demand, and buyers who join the room
// (POST /api/v1/events/:id/waiting-room), wait until admitted (told on their own socket), then hold
// with the token in the Admission-Token header. Written against the room's status body (server/waiting-room/status.ts);
// the runner first asks whether the route exists and stops with a clear message when it does not.
import type { Sql } from '../../server/store/index.ts';
import type { AdmissionGate } from './buyer.ts';
import type { HttpClient } from './http-client.ts';

interface RoomStatus {
  state?: 'open' | 'waiting' | 'admitted' | 'expired' | 'none';
  admissionToken?: string | null;
  estimatedWaitSeconds?: number | null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** How long a visitor with a socket waits for a push before asking over HTTP once (a missed push). */
const PUSH_FALLBACK_MS = 10_000;

/**
 * Joins, then waits as the buyer's page does: for the room to push the admission (with its token)
 * on the buyer's own socket, asking over HTTP only when no push came for a while. Without a socket,
 * it polls the status, about when the estimate says. Bounded by `deadline`.
 */
export function waitingRoomGate(http: HttpClient, deadline: number): AdmissionGate {
  return async (buyer, base, updates) => {
    const room = `${base}/api/v1/events/${buyer.eventId}/waiting-room`;
    let answer = await http.call('POST', room, { token: buyer.token, body: '{}' });
    while (Date.now() < deadline) {
      if (answer.error) return { error: answer.error };
      if (answer.status >= 400) return { error: `http_${answer.status}` };
      const status = (answer.body ?? {}) as RoomStatus;
      if (status.state === 'open') return { headers: {} };
      if (status.state === 'admitted' && status.admissionToken) return { headers: { 'admission-token': status.admissionToken } };
      if (status.state === 'expired' || status.state === 'none') return { error: `room_${status.state}` };
      if (updates?.isConnected()) {
        const pushed = await updates.queueOutcome(buyer.eventId, Math.min(PUSH_FALLBACK_MS, Math.max(0, deadline - Date.now())));
        if (pushed?.state === 'admitted' && pushed.admissionToken) return { headers: { 'admission-token': pushed.admissionToken } };
      } else {
        // In line: ask again about when the estimate says, between a quarter second and two seconds.
        await sleep(Math.min(2_000, Math.max(250, ((status.estimatedWaitSeconds ?? 1) * 1000) / 2)));
      }
      answer = await http.call('GET', room, { token: buyer.token });
    }
    return { error: 'room_timeout' };
  };
}

/** Whether the nodes serve the waiting room (its route answers something other than 404). */
export async function waitingRoomServed(http: HttpClient, base: string, eventId: string, token: string): Promise<boolean> {
  const answer = await http.call('GET', `${base}/api/v1/events/${eventId}/waiting-room`, { token });
  return answer.status !== 0 && answer.status !== 404;
}

/** Flags the events high-demand (a waiting room stands in front of their sale); false when the column is missing. */
export async function flagHighDemand(sql: Sql, eventIds: readonly string[]): Promise<boolean> {
  const [column] = await sql<{ n: number }[]>`
    select count(*)::int as n from information_schema.columns where table_name = 'events' and column_name = 'high_demand'`;
  if (!column?.n) return false;
  await sql`update events set high_demand = true where id in ${sql(eventIds)}`;
  return true;
}
