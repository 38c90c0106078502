// Chaos: a burst of 1,000 Stripe webhook deliveries into three nodes while a spike of buyers runs.
// Buyers pay at a local stand-in of Stripe's API and their purchases move only when the webhook
// arrives: ~600 distinct events (payments succeeded, cards declined, payment intents that are not
// ours, event types boxoffice does not act on), 30% of the deliveries duplicates (the same event to
// another node, at the same moment or later, same or fresh signature) and 10% forged (another
// secret, a real signature over another body, too old, unsigned). Genuine deliveries get 2xx, each
// event takes effect once, forgeries get 400 and change nothing, and every promise holds.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import { makeFakeStripeKeys, startFakeStripe, type FakeStripe } from '../helpers/fake-stripe.ts';
import { runSpike, Tally, type HeldPurchase } from './crowd.ts';
import { chaosScenario } from './scenario.ts';
import { planCrowd } from './sale.ts';
import { expectEveryPromiseKept, reportOf, settleAndCheck, writeReport } from './verdict.ts';
import { FORGERIES, WebhookBurst, type DuplicatePlan, type Forgery } from './webhooks.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const BUYERS = 540;
const RAMP_MS = 10_000;
const UNIQUE = 600;
const DUPLICATES = 300;
const FORGED = 100;

/** A seeded generator: the same crowd and the same burst on every run (timing aside). */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** How a paying buyer's card behaves: pays; is declined and gives up; is declined, then pays; pays just before the hold ends. */
type Payer = 'pays' | 'declined' | 'declined_then_pays' | 'pays_at_the_deadline';

const userOf = (token: string): string => (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { sub: string }).sub;

describe('chaos: a webhook burst during a spike', () => {
  let fakeStripe: FakeStripe | undefined;
  const scenario = chaosScenario('webhook-burst', {
    sale: { standing: 360, seats: 140, buyers: BUYERS },
    nodeEnvs: async () => {
      const keys = makeFakeStripeKeys();
      fakeStripe = await startFakeStripe(keys);
      const env = {
        PAYMENT_PROVIDER: 'stripe',
        STRIPE_SECRET_KEY: keys.apiKey,
        STRIPE_WEBHOOK_SECRET: keys.webhookSecret,
        STRIPE_API_URL: fakeStripe.url,
        // The burst comes from one address (loopback); Stripe spreads its deliveries over a dozen.
        // The production limit stays; these nodes lift it (see the scenario's report).
        RATE_LIMIT_WEBHOOKS_PER_MINUTE: '100000',
        // Webhooks, not reconciliation, must settle these payments: lookups start long after the run.
        PAYMENT_RECONCILE_AFTER_SECONDS: '600',
      };
      return [env, env, env];
    },
    cleanup: async () => await fakeStripe?.close(),
  });

  it('answers every genuine delivery 2xx and every forged one 400; each event takes effect once; forgeries change nothing', async () => {
    const { stores, nodes, sale } = scenario;
    const stripe = fakeStripe!;
    const startedAt = Date.now();
    const tally = new Tally();
    const random = seeded(20261124);
    const burst = new WebhookBurst({ stripe, nodes, tally, concurrency: 32, random });
    const plans = planCrowd(sale, { rampMs: RAMP_MS, nodes: nodes.length, shares: { pay: 0.7, cancel: 0.1 } });

    // Who is who: each buyer's plan by user id, and how each paying buyer's card behaves.
    const planOfUser = new Map(plans.map((p) => [userOf(p.token), p]));
    const payerOf = new Map<string, Payer>(
      plans.map((p) => {
        const roll = random();
        return [p.token, roll < 0.06 ? 'declined' : roll < 0.14 ? 'declined_then_pays' : roll < 0.3 ? 'pays_at_the_deadline' : 'pays'];
      }),
    );
    const declinedPurchases = new Set<string>();
    const paidAt = new Map<string, { payer: Payer; intent: string }>();
    let couldNotPay = 0;
    let duplicatesLeft = DUPLICATES;
    const duplicatePlan = (): DuplicatePlan | null => {
      if (duplicatesLeft <= 0 || random() >= DUPLICATES / UNIQUE) return null;
      duplicatesLeft--;
      return { timing: random() < 0.4 ? 'concurrent' : 'later', resigned: random() < 0.5, delayMs: 200 + Math.floor(random() * 4_000) };
    };
    const genuine = (event: Stripe.Event) => burst.genuine(event, duplicatePlan());
    const payable = (intentId: string) => stripe.intents.get(intentId)?.status === 'requires_payment_method';

    // The buyer pays at Stripe; the purchase moves when Stripe's webhook reaches a node.
    const pay = async (p: HeldPurchase) => {
      const payer = payerOf.get(p.plan.token)!;
      const intent = p.paymentId;
      if (!stripe.intents.has(intent)) return;
      if (payer === 'pays_at_the_deadline') {
        const [row] = await stores.sql<{ deadline: Date | null }[]>`select hold_deadline as deadline from purchases where id = ${p.purchaseId}`;
        await sleep(Math.max(0, (row?.deadline?.getTime() ?? Date.now()) - 300 - Date.now()));
      }
      if (!payable(intent)) {
        couldNotPay++; // the hold ended and the payment intent was cancelled first
        return;
      }
      if (payer === 'declined' || payer === 'declined_then_pays') {
        declinedPurchases.add(p.purchaseId);
        await genuine(stripe.decline(intent));
        if (payer === 'declined') return;
        await sleep(300 + random() * 1_500);
        if (!payable(intent)) {
          couldNotPay++;
          return;
        }
      }
      const event = stripe.pay(intent);
      paidAt.set(p.purchaseId, { payer, intent });
      // At the deadline the webhook may come after the hold ended (Stripe is not always quick).
      if (payer === 'pays_at_the_deadline') await sleep(random() * 2_500);
      await genuine(event);
    };

    // Events that are not the crowd's: payment intents of some other system, and types nobody acts on.
    // Sized on the high side (not every paying buyer gets a hold); the rest is topped up at the end.
    const expectedPurchaseEvents = Math.round(plans.filter((p) => p.fate === 'pay').length * 0.8);
    let fillers = 0;
    const filler = () => {
      fillers++;
      const n = fillers;
      if (n % 2) {
        const type = n % 4 === 1 ? 'payment_intent.succeeded' : 'payment_intent.payment_failed';
        const metadata = n % 3 ? { purchaseId: randomUUID() } : {};
        return genuine(stripe.event(type, { id: `pi_elsewhere${n}`, object: 'payment_intent', amount: 1_000 + n, amount_received: 1_000 + n, currency: 'eur', metadata, status: 'succeeded', last_payment_error: null }));
      }
      const type = ['customer.created', 'charge.succeeded', 'payment_intent.created', 'charge.refunded'][(n / 2) % 4]!;
      return genuine(stripe.event(type, { id: `obj_${n}`, object: type.split('.')[0], metadata: {} }));
    };
    const fillerTimeline = async (count: number, spanMs: number) => {
      for (let i = 0; i < count; i++) {
        await sleep(spanMs / count);
        void filler();
      }
    };

    // Forgeries against the crowd: a success for a buyer who never pays, a decline for a buyer whose
    // card is never declined. Any effect would show in those purchases' transitions.
    const forgedTargets = new Map<string, { purchaseId: string; forgery: Forgery; type: string }>();
    const forge = async (i: number) => {
      const forgery = FORGERIES[i % FORGERIES.length]!;
      const wantsSuccess = i % 2 === 0;
      const rows = await stores.sql<{ purchase_id: string; payment_id: string; customer_id: string }[]>`
        select m.purchase_id, m.id as payment_id, p.customer_id from payments m join purchases p on p.id = m.purchase_id
        where m.provider = 'stripe' order by random() limit 50`;
      const target = rows.find((r) => {
        const plan = planOfUser.get(r.customer_id);
        if (!plan || !stripe.intents.has(r.payment_id)) return false;
        const payer = payerOf.get(plan.token)!;
        return wantsSuccess ? plan.fate !== 'pay' : plan.fate === 'pay' && (payer === 'pays' || payer === 'pays_at_the_deadline');
      });
      const intent = target ? stripe.intents.get(target.payment_id)! : { id: `pi_forged${i}`, object: 'payment_intent', amount: 4_500, currency: 'eur', metadata: {} };
      const event = wantsSuccess
        ? stripe.event('payment_intent.succeeded', { ...intent, status: 'succeeded', amount_received: intent.amount })
        : stripe.event('payment_intent.payment_failed', { ...intent, last_payment_error: { code: 'card_declined', message: 'Your card was declined.' } });
      if (target) forgedTargets.set(event.id, { purchaseId: target.purchase_id, forgery, type: event.type });
      await burst.forged(event, forgery);
    };
    const forgeTimeline = async () => {
      await sleep(1_500);
      const forging: Promise<void>[] = [];
      for (let i = 0; i < FORGED; i++) {
        forging.push(forge(i));
        await sleep((RAMP_MS + 3_500) / FORGED);
      }
      await Promise.all(forging);
    };

    const spike = runSpike({ nodes, plans, tally, pay });
    const sideShows = Promise.all([fillerTimeline(Math.max(0, UNIQUE - expectedPurchaseEvents), RAMP_MS + 4_000), forgeTimeline()]);
    const result = await spike;
    await sideShows;
    // Top up to the burst's shape: distinct events, then Stripe's retries of events already sent.
    for (let i = 0; burst.sent.size < UNIQUE && i < UNIQUE; i++) void filler();
    const sentIds = [...burst.sent.keys()];
    for (; duplicatesLeft > 0; duplicatesLeft--) void burst.again(sentIds[Math.floor(random() * sentIds.length)]!, random() < 0.5);
    await burst.drain();

    // Every stored event processed (or ignored) by the queue, then the sale settled and checked.
    for (let i = 0; i < 120; i++) {
      const [row] = await stores.sql<{ n: number }[]>`select count(*)::int as n from webhook_events where outcome is null`;
      if (row!.n === 0) break;
      await sleep(250);
    }
    const checked = await settleAndCheck(stores, sale.events, 25_000);

    const findings: Record<string, string[]> = {};
    const find = (name: string, what: string) => {
      const list = (findings[name] ??= []);
      if (list.length < 10) list.push(what);
    };
    const deliveries = burst.deliveries;
    const genuineIds = new Set(burst.sent.keys());
    const stored = await stores.sql<{ event_id: string; event_type: string; outcome: string | null; reason: string | null }[]>`
      select event_id, event_type, outcome, reason from webhook_events where provider = 'stripe'`;
    const storedById = new Map(stored.map((r) => [r.event_id, r]));

    // Forged: 400, nothing stored, nothing moved.
    const forged = deliveries.filter((d) => d.kind === 'forged');
    const forgedRejected = forged.filter((d) => d.status === 400).length;
    for (const d of forged) {
      if (d.status !== 400) find('forged_rejected', `forged ${d.forgery} ${d.eventType} ${d.eventId} answered ${d.status}`);
      if (storedById.has(d.eventId)) find('forged_changed_nothing', `forged ${d.forgery} event ${d.eventId} was stored`);
    }
    // Genuine and duplicates: 2xx; per event exactly one answer that was not a duplicate, stored once, settled.
    const firstAnswers = new Map<string, number>();
    for (const d of deliveries.filter((x) => x.kind !== 'forged')) {
      if (d.status < 200 || d.status >= 300) find('genuine_answered_2xx', `${d.kind} ${d.eventType} ${d.eventId} answered ${d.status}`);
      if (d.duplicate === false) firstAnswers.set(d.eventId, (firstAnswers.get(d.eventId) ?? 0) + 1);
    }
    let processedOnce = 0;
    for (const id of genuineIds) {
      const row = storedById.get(id);
      const firsts = firstAnswers.get(id) ?? 0;
      if (row?.outcome && firsts === 1) processedOnce++;
      else find('processed_once', `event ${id}: stored ${row ? `with outcome ${row.outcome}` : 'never'}, answered as new ${firsts} times`);
    }
    for (const row of stored) if (!genuineIds.has(row.event_id)) find('processed_once', `stored event ${row.event_id} (${row.event_type}) was never sent by the provider`);

    // In effect: one payment.succeeded per purchase paid at Stripe (none for any other), at most one
    // payment.failed, none for a purchase whose card was never declined; the money ends in tickets or a refund.
    const moves = await stores.sql<{ purchase_id: string; event_type: string; n: number }[]>`
      select purchase_id, event_type, count(*)::int as n from purchase_transitions
      where event_type in ('payment.succeeded', 'payment.failed') group by 1, 2`;
    const movesOf = (purchaseId: string, type: string) => moves.find((m) => m.purchase_id === purchaseId && m.event_type === type)?.n ?? 0;
    const purchases = await stores.sql<{ id: string; state: string; expired_first: boolean; tickets: number }[]>`
      select p.id, p.state,
             exists (select 1 from purchase_transitions t where t.purchase_id = p.id and t.to_state in ('expired', 'payment_failed')) as expired_first,
             (select count(*)::int from tickets k where k.purchase_id = p.id and k.status = 'valid') as tickets
      from purchases p`;
    const paidAfterHoldEnded = { paid: 0, ticketsReclaimed: 0, refunded: 0 };
    for (const p of purchases) {
      const paid = paidAt.has(p.id);
      const succeeded = movesOf(p.id, 'payment.succeeded');
      if (succeeded !== (paid ? 1 : 0)) find('processed_once', `purchase ${p.id} (${paid ? 'paid' : 'not paid'}) has ${succeeded} payment.succeeded transitions`);
      const failed = movesOf(p.id, 'payment.failed');
      if (failed > (declinedPurchases.has(p.id) ? 1 : 0)) find('forged_changed_nothing', `purchase ${p.id} has ${failed} payment.failed transitions`);
      if (paid && p.state !== 'confirmed' && p.state !== 'refunded') find('paid_to_tickets_or_refund', `purchase ${p.id} paid but ended ${p.state}`);
      const refunds = stripe.refunds.filter((r) => r.payment_intent === paidAt.get(p.id)?.intent).length;
      if (paid && refunds !== (p.state === 'refunded' ? 1 : 0)) find('paid_to_tickets_or_refund', `purchase ${p.id} ${p.state} has ${refunds} refunds at Stripe`);
      if (paid && p.expired_first) {
        paidAfterHoldEnded.paid++;
        if (p.state === 'confirmed' && p.tickets > 0) paidAfterHoldEnded.ticketsReclaimed++;
        if (p.state === 'refunded') paidAfterHoldEnded.refunded++;
      }
    }
    // The payments table agrees with Stripe: succeeded exactly where the buyer paid.
    for (const m of await stores.sql<{ purchase_id: string; status: string }[]>`select purchase_id, status from payments where provider = 'stripe'`) {
      const paid = paidAt.has(m.purchase_id);
      if (paid !== (m.status === 'succeeded')) find(paid ? 'processed_once' : 'forged_changed_nothing', `payment of purchase ${m.purchase_id} is ${m.status}, ${paid ? '' : 'never '}paid at Stripe`);
    }

    const percentile = (values: number[], q: number) => values.sort((x, y) => x - y)[Math.min(values.length - 1, Math.floor(values.length * q))] ?? 0;
    const count = <T>(items: readonly T[], key: (item: T) => string) => items.reduce<Record<string, number>>((acc, item) => ((acc[key(item)] = (acc[key(item)] ?? 0) + 1), acc), {});
    const duplicates = deliveries.filter((d) => d.kind === 'duplicate');
    const seen = {
      held: result.held.length,
      deliveries: deliveries.length,
      unique: genuineIds.size,
      duplicates: duplicates.length,
      duplicatesBy: { ...count(duplicates, (d) => d.timing!), resigned: duplicates.filter((d) => d.resigned).length, toAnotherNode: duplicates.filter((d) => d.node !== d.firstNode).length },
      duplicatesAnsweredAsDuplicate: duplicates.filter((d) => d.duplicate === true).length,
      forged: forged.length,
      forgedBy: count(forged, (d) => d.forgery!),
      forgedAgainstCrowdPurchases: forgedTargets.size,
      forgedRejected,
      processedOnce,
      eventsByType: count([...burst.sent.values()], (s) => s.event.type),
      storedOutcomes: count(stored, (r) => `${r.outcome}${r.reason ? `: ${r.reason}` : ''}`),
      paidAtStripe: paidAt.size,
      purchasesBy: count(purchases, (p) => p.state),
      paidAfterHoldEnded,
      declined: declinedPurchases.size,
      couldNotPayHoldEnded: couldNotPay,
      refundsAtStripe: stripe.refunds.length,
      deliveriesPerNode: count(deliveries, (d) => `node ${d.node + 1}`),
      deliveryMs: {
        waitedForASlotP50: percentile(deliveries.map((d) => d.sentAt - d.queuedAt), 0.5),
        waitedForASlotP95: percentile(deliveries.map((d) => d.sentAt - d.queuedAt), 0.95),
        answeredP50: percentile(deliveries.map((d) => d.answeredAt - d.sentAt), 0.5),
        answeredP95: percentile(deliveries.map((d) => d.answeredAt - d.sentAt), 0.95),
      },
      nodeErrors: nodes.flatMap((n) => n.errors()).length,
    };
    const verdict = (name: string) => (findings[name]?.length ? 'fail' : 'pass');
    const report = reportOf(
      'webhook-burst',
      `${deliveries.length} Stripe webhook deliveries (${duplicates.length} duplicates, ${forged.length} forged), 32 in flight, to 3 nodes during a ${RAMP_MS / 1000} s ramp of ${plans.length} buyers`,
      startedAt,
      tally,
      checked,
      seen,
      {
        forged_rejected: verdict('forged_rejected'),
        forged_changed_nothing: verdict('forged_changed_nothing'),
        genuine_answered_2xx: verdict('genuine_answered_2xx'),
        processed_once: verdict('processed_once'),
        paid_to_tickets_or_refund: verdict('paid_to_tickets_or_refund'),
      },
      findings,
    );
    await writeReport(report, nodes);

    expectEveryPromiseKept(report);
    expect(deliveries.length).toBe(UNIQUE + DUPLICATES + FORGED);
    expect(forgedRejected).toBe(FORGED);
    expect(processedOnce).toBe(genuineIds.size);
    expect(paidAt.size).toBeGreaterThan(100);
    expect(nodes.flatMap((n) => n.errors())).toEqual([]);
  });
});
