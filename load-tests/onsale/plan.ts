// The crowd, drawn once from a seed: when each buyer arrives, which event and seat they want, what
// they will do after holding (pay, abandon, cancel, fail) and how long they think first. The same
// plan drives boxoffice and the naive baseline, so both meet the same crowd. Pure.
import type { Options, TicketKind } from './scenarios.ts';

export type Outcome = 'pay' | 'abandon' | 'cancel' | 'fail';
export const OUTCOMES: readonly Outcome[] = ['pay', 'abandon', 'cancel', 'fail'];

export interface SaleEvent {
  eventId: string;
  ticketTypeId: string;
  kind: TicketKind;
  capacity: number;
  seatIds: string[];
}

export interface BuyerPlan {
  index: number;
  token: string;
  eventId: string;
  ticketTypeId: string;
  /** The seat wanted (seated events), or null for one standing ticket. */
  seatId: string | null;
  /** Milliseconds after the start of the ramp. */
  arrivalMs: number;
  outcome: Outcome;
  thinkMs: number;
}

/** mulberry32: small, fast, and the same sequence everywhere for a seed. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled<T>(items: readonly T[], rand: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export function planBuyers(options: Pick<Options, 'buyers' | 'rampSeconds' | 'abandon' | 'cancel' | 'fail' | 'thinkMs' | 'seed'>, events: readonly SaleEvent[], tokens: readonly string[]): BuyerPlan[] {
  const rand = random(options.seed);
  const arrivals = Array.from({ length: options.buyers }, () => rand() * options.rampSeconds * 1000).sort((a, b) => a - b);
  // Each event's seats in a random order: its k-th buyer wants seat k (wrapping round when more
  // buyers than seats come, so late buyers want seats someone holds, as in a real rush).
  const seatOrder = events.map((e) => shuffled(e.seatIds, rand));
  const seen = events.map(() => 0);
  const [thinkMin, thinkMax] = options.thinkMs;
  return arrivals.map((arrivalMs, index) => {
    const e = index % events.length;
    const event = events[e]!;
    const k = seen[e]!++;
    const draw = rand();
    const outcome: Outcome =
      draw < options.abandon ? 'abandon' : draw < options.abandon + options.cancel ? 'cancel' : draw < options.abandon + options.cancel + options.fail ? 'fail' : 'pay';
    return {
      index,
      token: tokens[index % tokens.length]!,
      eventId: event.eventId,
      ticketTypeId: event.ticketTypeId,
      seatId: event.kind === 'seated' ? (seatOrder[e]![k % seatOrder[e]!.length] ?? null) : null,
      arrivalMs,
      outcome,
      thinkMs: thinkMin + rand() * (thinkMax - thinkMin),
    };
  });
}

/** The request body of a buyer's hold: one standing ticket, or their one seat. */
export function holdBody(buyer: Pick<BuyerPlan, 'eventId' | 'ticketTypeId' | 'seatId'>): string {
  const item = buyer.seatId ? { ticketTypeId: buyer.ticketTypeId, seatIds: [buyer.seatId] } : { ticketTypeId: buyer.ticketTypeId, quantity: 1 };
  return JSON.stringify({ eventId: buyer.eventId, items: [item] });
}
