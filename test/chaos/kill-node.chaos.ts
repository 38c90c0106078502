// Chaos: one of three nodes is killed (SIGKILL) in the middle of a spike. Its buyers' requests
// fail over to the others (same Idempotency-Key), its purchases finish or expire there (timers and
// sweep run on every node), its watchers and its door scanner reconnect to another node and
// re-sync — and every promise holds afterwards.
import { describe, expect, it } from 'vitest';
import { call } from '../helpers/server.ts';
import { runSpike, send, Tally } from './crowd.ts';
import { chaosScenario } from './scenario.ts';
import { planCrowd } from './sale.ts';
import { FailoverScanner } from './scanners.ts';
import { expectEveryPromiseKept, ownChecks, reportOf, settleAndCheck, writeReport } from './verdict.ts';
import { openWatchers } from './watchers.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('chaos: a node killed mid-spike', () => {
  const scenario = chaosScenario('kill-node', { sale: { standing: 150, seats: 60, buyers: 420 } });

  it('loses nothing: purchases end on the other nodes, watchers and scanners move over and re-sync', async () => {
    const { stores, nodes, sale } = scenario;
    const startedAt = Date.now();
    const tally = new Tally();
    const [standing] = sale.events;
    const victim = nodes[1]!;

    // Tickets for the doors, bought before the spike by the first three buyers.
    const codes: string[] = [];
    for (const token of sale.buyerTokens.slice(0, 3)) {
      const held = await send(tally, 'hold', nodes, 0, '/purchases', {
        token,
        body: { eventId: standing!.eventId, items: [{ ticketTypeId: standing!.ticketTypeId, quantity: 2 }] },
        headers: { 'idempotency-key': crypto.randomUUID() },
        deadline: Date.now() + 10_000,
      });
      expect(held.status, JSON.stringify(held.body)).toBe(201);
      expect(held.body!['payment'], JSON.stringify(held.body)).toBeTruthy();
      const paymentId = (held.body!['payment'] as { paymentId: string }).paymentId;
      await send(tally, 'pay', nodes, 0, `/sandbox/payments/${paymentId}/succeed`, { token, body: {}, deadline: Date.now() + 10_000 });
    }
    for (let i = 0; codes.length < 6 && i < 100; i++) {
      codes.splice(0, codes.length, ...(await stores.sql<{ code: string }[]>`select code from tickets where event_id = ${standing!.eventId} order by id`).map((r) => r.code));
      await sleep(100);
    }
    expect(codes).toHaveLength(6);
    const device = async (name: string) =>
      (await call<{ token: string }>(`${nodes[0]!.api}/organizer/events/${standing!.eventId}/devices`, { token: sale.organizerToken, body: { name } })).body.token;
    const scanners = [new FailoverScanner(nodes, 0, await device('Door A'), tally), new FailoverScanner(nodes, 1, await device('Door B'), tally)];
    await Promise.all(scanners.map((s) => s.connect()));
    const watchers = await openWatchers(nodes, sale.events.map((e) => e.eventId), 3, tally);

    const plans = planCrowd({ ...sale, buyerTokens: sale.buyerTokens.slice(3) }, { rampMs: 8_000, nodes: nodes.length, shares: { pay: 0.6, cancel: 0.15 } });
    const spike = runSpike({ nodes, plans, tally });
    await sleep(3_000);
    const killedAt = Date.now() - startedAt;
    await victim.kill('SIGKILL');

    // Door B's node is gone: it scans on offline, then syncs from another node; door A scans the
    // same tickets online. Each ticket is admitted once.
    for (const code of codes.slice(0, 3)) await scanners[1]!.scan(code);
    await Promise.all(codes.map((code) => scanners[0]!.scan(code)));
    await scanners[1]!.connect();

    const result = await spike;
    const checked = await settleAndCheck(stores, sale.events, 25_000);
    const stale = await watchers.stale(checked.truth, 10_000);
    const admissions = await stores.sql<{ n: number }[]>`
      select count(*)::int as n from tickets where event_id = ${standing!.eventId} and admitted_at is not null`;
    const placedOnVictim = result.held.filter((h) => h.node === 1);
    const ends = await stores.sql<{ state: string; n: number }[]>`
      select state, count(*)::int as n from purchases where id in ${stores.sql(placedOnVictim.length ? placedOnVictim.map((h) => h.purchaseId) : ['00000000-0000-0000-0000-000000000000'])} group by state`;
    const door = { admitted: admissions[0]!.n, tickets: codes.length, doorBReconnects: scanners[1]!.reconnects };
    const report = reportOf(
      'kill-node',
      `SIGKILL node 2 of 3 at ${Math.round(killedAt / 100) / 10} s into an 8 s ramp of ${plans.length} buyers`,
      startedAt,
      tally,
      checked,
      {
        held: result.held.length,
        heldOnKilledNode: placedOnVictim.length,
        killedNodePurchasesEnded: Object.fromEntries(ends.map((e) => [e.state, e.n])),
        watcherReconnects: watchers.reconnects(),
        door,
        otherNodesErrors: nodes.filter((n) => n !== victim).flatMap((n) => n.errors()).length,
      },
      ...ownChecks({ watchers_resynced: stale, each_ticket_admitted_once: door.admitted === door.tickets }),
    );
    await writeReport(report, nodes);
    watchers.close();
    scanners.forEach((s) => s.close());

    expectEveryPromiseKept(report);
    expect(placedOnVictim.length).toBeGreaterThan(0);
    expect(watchers.reconnects()).toBeGreaterThan(0);
    expect(scanners[1]!.reconnects).toBe(1);
    expect(nodes.filter((n) => n !== victim).flatMap((n) => n.errors())).toEqual([]);
  });
});
