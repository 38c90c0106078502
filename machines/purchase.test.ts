// Every path of the purchase machine, generated from the machine itself (@xstate/graph), checked
// against the promises: every hold ends (converted or released exactly once), every succeeded
// payment ends in tickets or a refund, effects carry what the host needs, replay is deterministic,
// and events that make no sense are ignored and counted.
import { getShortestPaths, getSimplePaths } from '@xstate/graph';
import { describe, expect, it } from 'vitest';
import { purchaseMachine, SETTLED_STATES, type PurchaseEvent, type PurchaseInput, type PurchaseState } from './purchase.ts';
import { advancePurchase, replayPurchase, startPurchase, type Effect } from './purchase-step.ts';

const input: PurchaseInput = {
  purchaseId: 'pur-1',
  eventId: 'evt-1',
  customerId: 'cus-1',
  items: [{ ticketTypeId: 'tt-1', quantity: 2 }],
  amountMinor: 9000,
  currency: 'EUR',
};
const DEADLINE = 1_000;

const EVENTS: PurchaseEvent[] = [
  { type: 'hold.placed', token: 'hold-7', deadline: DEADLINE },
  { type: 'hold.rejected', reason: 'sold_out' },
  { type: 'hold.expired', now: DEADLINE - 1 },
  { type: 'hold.expired', now: DEADLINE },
  { type: 'payment.started', paymentId: 'pay-1' },
  { type: 'payment.succeeded', paymentId: 'pay-1' },
  { type: 'payment.failed', paymentId: 'pay-1', reason: 'card_declined' },
  { type: 'payment.failed', paymentId: 'someone-elses', reason: 'card_declined' },
  { type: 'purchase.cancel' },
  { type: 'tickets.issued' },
  { type: 'tickets.failed', reason: 'holds_lost' },
  { type: 'refund.succeeded' },
  { type: 'refund.requested', ticketIds: ['t-1'], amountMinor: 4500, requestId: 'r-part' },
  { type: 'refund.requested', ticketIds: null, amountMinor: 0, requestId: 'r-all' },
];

const ALL_STATES: PurchaseState[] = ['reserving', 'held', 'paying', 'confirming', 'refunding', ...SETTLED_STATES];
const PAID_END_STATES: PurchaseState[] = ['confirming', 'confirmed', 'refunding', 'refunded'];

// Graph identity of a snapshot: its state and what it holds, not the ever-growing ignored counter.
const serializeState = (s: { value: unknown; context: { hold: unknown; paymentId: unknown; refundedMinor: number } }) =>
  JSON.stringify([s.value, s.context.hold !== null, s.context.paymentId, s.context.refundedMinor]);
const traversal = { events: EVENTS, input, serializeState: serializeState as never };

interface Walk {
  events: PurchaseEvent[];
  states: PurchaseState[];
  effects: Effect[];
}

function walk(events: PurchaseEvent[]): Walk {
  let step = startPurchase(input);
  const result: Walk = { events, states: [step.to], effects: [...step.effects] };
  for (const event of events) {
    step = advancePurchase(step.snapshot, event);
    result.states.push(step.to);
    result.effects.push(...step.effects);
  }
  return result;
}

const paths = getSimplePaths(purchaseMachine, traversal).map((p) => walk(p.steps.slice(1).map((s) => s.event)));

describe('purchase machine', () => {
  it('has paths into every state', () => {
    const reached = new Set(paths.flatMap((p) => p.states));
    expect([...reached].sort()).toEqual([...ALL_STATES].sort());
    expect(paths.length).toBeGreaterThan(20);
  });

  it('every placed hold ends exactly once: released, or turned into tickets', () => {
    for (const path of paths) {
      const end = path.states.at(-1)!;
      if (!(SETTLED_STATES as readonly string[]).includes(end)) continue;
      const placed = path.events.some((e, i) => e.type === 'hold.placed' && path.states[i] === 'reserving');
      const releases = path.effects.filter((e) => e.type === 'releaseHold');
      // A payment after the release claims the units again inside issueTickets (token ''), which
      // converts or releases that second hold itself.
      const issues = path.effects.filter((e) => e.type === 'issueTickets');
      const issuedOnOriginal = path.states.includes('confirmed') && issues.some((e) => e.params.holdToken === 'hold-7');
      if (!placed) expect(releases, path.states.join('>')).toHaveLength(0);
      else expect(releases.length + (issuedOnOriginal ? 1 : 0), path.states.join('>')).toBe(1);
      for (const r of releases) expect(r.params).toMatchObject({ holdToken: 'hold-7', eventId: 'evt-1', purchaseId: 'pur-1' });
    }
  });

  it('every succeeded payment ends in tickets or a refund', () => {
    for (const path of paths) {
      const paidAt = path.events.findIndex((e, i) => e.type === 'payment.succeeded' && path.states[i] !== path.states[i + 1]);
      if (paidAt === -1) continue;
      const end = path.states.at(-1)!;
      expect(PAID_END_STATES, path.states.join('>')).toContain(end);
      // And from where it stands, a finished state is one event away at most.
      if (end === 'confirming') expect(advancePurchase(replayPurchase(input, path.events), { type: 'tickets.issued' }).to).toBe('confirmed');
      if (end === 'refunding') expect(advancePurchase(replayPurchase(input, path.events), { type: 'refund.succeeded' }).to).toBe('refunded');
    }
  });

  it('asks for a refund when it enters refunding or refunds part, never more than was paid', () => {
    for (const path of paths) {
      const refunds = path.effects.filter((e) => e.type === 'refund');
      const entries = path.states.filter((s, i) => s === 'refunding' && path.states[i - 1] !== 'refunding').length;
      const partials = path.events.filter((e, i) => e.type === 'refund.requested' && e.ticketIds !== null && path.states[i] === 'confirmed').length;
      expect(refunds.length, path.states.join('>')).toBe(entries + partials);
      const total = refunds.reduce((sum, r) => sum + (r.type === 'refund' ? r.params.amountMinor : 0), 0);
      expect(total).toBeLessThanOrEqual(9000);
      if (path.states.at(-1) === 'refunded') expect(total, path.states.join('>')).toBe(9000);
      for (const r of refunds) expect(r.params).toMatchObject({ purchaseId: 'pur-1', paymentId: 'pay-1', currency: 'EUR' });
      for (const c of path.effects.filter((e) => e.type === 'cancelPayment')) expect(c.params).toEqual({ purchaseId: 'pur-1', paymentId: 'pay-1' });
      // Tickets are voided only for a purchase that had them.
      for (const [i, e] of path.events.entries()) if (e.type === 'refund.requested' && path.states[i + 1] !== path.states[i]) expect(path.states[i]).toBe('confirmed');
    }
  });

  it('issues tickets only after a succeeded payment, with the hold token (or none after a release)', () => {
    for (const path of paths) {
      const issues = path.effects.filter((e) => e.type === 'issueTickets');
      for (const issue of issues) {
        expect(issue.params).toMatchObject({ items: input.items });
        const releasedBefore = path.effects.indexOf(issue) > path.effects.findIndex((e) => e.type === 'releaseHold') && path.effects.some((e) => e.type === 'releaseHold');
        expect(issue.params.holdToken, path.states.join('>')).toBe(releasedBefore ? '' : 'hold-7');
      }
      if (issues.length) expect(path.events.some((e) => e.type === 'payment.succeeded')).toBe(true);
    }
  });

  it('from every reachable state a settled state can be reached', () => {
    for (const path of paths) {
      const from = replayPurchase(input, path.events);
      if ((SETTLED_STATES as readonly string[]).includes(from.value)) continue;
      const onward = getShortestPaths(purchaseMachine, {
        ...traversal,
        fromState: purchaseMachine.resolveState({ value: from.value, context: from.context }),
        toState: (s) => (SETTLED_STATES as readonly string[]).includes(s.value as string),
      });
      expect(onward.length, `stuck in ${from.value}`).toBeGreaterThan(0);
    }
  });

  it('replays deterministically: the same events give the same snapshot', () => {
    for (const path of paths) {
      expect(replayPurchase(input, path.events)).toEqual(replayPurchase(input, path.events));
      expect(replayPurchase(input, path.events).value).toBe(path.states.at(-1));
    }
  });

  it('ignores and counts events that make no sense, without effects', () => {
    let step = startPurchase(input);
    step = advancePurchase(step.snapshot, { type: 'tickets.issued' });
    expect(step).toMatchObject({ from: 'reserving', to: 'reserving', effects: [] });
    expect(step.snapshot.context.ignoredEvents).toBe(1);
    step = advancePurchase(step.snapshot, { type: 'hold.placed', token: 'h', deadline: DEADLINE });
    // An expiry before the deadline is refused by the guard, and counted.
    step = advancePurchase(step.snapshot, { type: 'hold.expired', now: DEADLINE - 1 });
    expect(step.to).toBe('held');
    expect(step.snapshot.context.ignoredEvents).toBe(2);
    // Once our payment is known, a failure report for another payment does not fail ours.
    step = advancePurchase(step.snapshot, { type: 'payment.started', paymentId: 'p' });
    step = advancePurchase(step.snapshot, { type: 'payment.failed', paymentId: 'other', reason: 'x' });
    expect(step.to).toBe('paying');
    expect(step.snapshot.context.ignoredEvents).toBe(3);
    // A confirmed purchase ignores a late expiry.
    for (const event of [{ type: 'payment.succeeded', paymentId: 'p' }, { type: 'tickets.issued' }] as const) step = advancePurchase(step.snapshot, event);
    expect(step.to).toBe('confirmed');
    const late = advancePurchase(step.snapshot, { type: 'hold.expired', now: DEADLINE * 10 });
    expect(late.to).toBe('confirmed');
    expect(late.effects).toEqual([]);
  });

  it('emits the effect of each entered state once', () => {
    const start = startPurchase(input);
    expect(start.effects).toEqual([{ type: 'placeHold', params: { purchaseId: 'pur-1', eventId: 'evt-1', items: input.items } }]);
    const held = advancePurchase(start.snapshot, { type: 'hold.placed', token: 'hold-7', deadline: DEADLINE });
    expect(held.effects).toEqual([{ type: 'startPayment', params: { purchaseId: 'pur-1', amountMinor: 9000, currency: 'EUR' } }]);
    expect(held.snapshot.context.hold).toEqual({ token: 'hold-7', deadline: DEADLINE });
    const expired = advancePurchase(held.snapshot, { type: 'hold.expired', now: DEADLINE });
    expect(expired.effects.map((e) => e.type)).toEqual(['releaseHold', 'notify']);
  });
});
