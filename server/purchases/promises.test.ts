// The verdicts over an event's facts: kept promises give empty lists; each kind of breakage lands
// under its promise (what the on-sale load test reports as pass / fail).
import { describe, expect, it } from 'vitest';
import { brokenPromises, type EventFacts, type PurchaseFacts } from './promises.ts';

const purchase = (overrides: Partial<PurchaseFacts> = {}): PurchaseFacts => ({
  id: 'p1',
  state: 'confirmed',
  seqs: [1, 2, 3, 4, 5],
  replayedState: 'confirmed',
  lastLoggedState: 'confirmed',
  paid: true,
  wantedTickets: 1,
  issuedTickets: 1,
  validTickets: 1,
  holdRecordLeft: false,
  ...overrides,
});

const facts = (overrides: Partial<EventFacts> = {}): EventFacts => ({
  eventId: 'e1',
  types: [{ id: 't1', kind: 'general', sold: 1, capacity: 2, tickets: 1 }],
  seatsSoldTwice: 0,
  paidWithoutTicketOrRefund: 0,
  purchases: [purchase()],
  ...overrides,
});

describe('brokenPromises', () => {
  it('finds nothing when every promise is kept', () => {
    expect(Object.values(brokenPromises(facts())).flat()).toEqual([]);
  });

  it('names each breakage under its promise', () => {
    const broken = brokenPromises(
      facts({
        types: [{ id: 't1', kind: 'general', sold: 3, capacity: 2, tickets: 2 }],
        seatsSoldTwice: 1,
        paidWithoutTicketOrRefund: 1,
        purchases: [
          purchase({ id: 'gap', seqs: [1, 3] }),
          purchase({ id: 'drift', replayedState: 'confirming', lastLoggedState: 'confirming' }),
          purchase({ id: 'lost', state: 'expired', replayedState: 'expired', lastLoggedState: 'expired', validTickets: 1, issuedTickets: 1 }),
          purchase({ id: 'short', issuedTickets: 0, validTickets: 0 }),
          purchase({ id: 'leak', state: 'cancelled', replayedState: 'cancelled', lastLoggedState: 'cancelled', paid: false, validTickets: 0, holdRecordLeft: true }),
        ],
      }),
    );
    expect(broken.no_oversell).toHaveLength(3);
    expect(broken.transitions_replay.join(' ')).toMatch(/gap.*drift/);
    expect(broken.paid_without_ticket_or_refund).toEqual(['1 payments without ticket or refund', 'purchase lost: paid but expired']);
    expect(broken.tickets_match_purchases).toEqual(['expired purchase lost: 1 valid tickets', 'confirmed purchase short: 0 tickets, wanted 1']);
    expect(broken.released_holds_gone).toEqual(['cancelled purchase leak: hold record still in Redis']);
  });
});
