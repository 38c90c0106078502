// The on-sale a chaos scenario runs: a standing event and a seated one, buyers with signed tokens,
// an organizer, and the crowd's plan — who arrives when, wants what, and pays, abandons or cancels.
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../server/config.ts';
import { createAccessTokens, TOKEN_AUDIENCE, TOKEN_ISSUER } from '../../server/identity/index.ts';
import { benchEvent, benchPeople } from '../../load-tests/harness.ts';
import type { BuyerPlan, Fate } from './crowd.ts';
import { chaosEnv } from './nodes.ts';
import type { ChaosStores } from './stores.ts';
import type { ChaosEvent } from './verdict.ts';

export interface ChaosSale {
  events: ChaosEvent[];
  organizerToken: string;
  buyerTokens: string[];
}

export async function seedChaosSale(stores: ChaosStores, options: { standing: number; seats: number; buyers: number }): Promise<ChaosSale> {
  const config = loadConfig(chaosEnv(stores));
  const { organizerId, tokens } = await benchPeople(stores.sql, config, options.buyers);
  const signer = createAccessTokens({ secret: config.auth.jwtSecret, issuer: TOKEN_ISSUER, audience: TOKEN_AUDIENCE, ttlSeconds: 3600 });
  const organizerToken = (await signer.sign({ userId: organizerId, sessionId: randomUUID(), role: 'organizer' })).token;
  const standing = await benchEvent(stores.sql, organizerId, options.standing, 'general');
  const seated = await benchEvent(stores.sql, organizerId, options.seats, 'seated');
  return {
    organizerToken,
    buyerTokens: tokens,
    events: [
      { eventId: standing.eventId, ticketTypeId: standing.ticketTypeId, capacity: options.standing, seatIds: [] },
      { eventId: seated.eventId, ticketTypeId: seated.ticketTypeId, capacity: options.seats, seatIds: seated.seatIds },
    ],
  };
}

/** A seeded shuffle, so a failing run can be told apart from bad luck and run again alike. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

export interface CrowdShape {
  /** Buyers arrive evenly within this many ms. */
  rampMs: number;
  nodes: number;
  shares: { pay: number; cancel: number };
  seed?: number;
}

/** One plan per buyer token: every other buyer wants the seated event (one or two adjacent seats). */
export function planCrowd(sale: ChaosSale, shape: CrowdShape): BuyerPlan[] {
  const next = random(shape.seed ?? 20261123);
  const [standing, seated] = sale.events as [ChaosEvent, ChaosEvent];
  return sale.buyerTokens.map((token, i) => {
    const roll = next();
    const fate: Fate = roll < shape.shares.pay ? 'pay' : roll < shape.shares.pay + shape.shares.cancel ? 'cancel' : 'abandon';
    const quantity = next() < 0.7 ? 1 : 2;
    const base = {
      token,
      fate,
      quantity,
      arriveAt: Math.round((i / sale.buyerTokens.length) * shape.rampMs),
      node: i % shape.nodes,
    };
    if (i % 2 === 0) return { ...base, eventId: standing.eventId, ticketTypeId: standing.ticketTypeId };
    const first = Math.floor(next() * (seated.seatIds.length - quantity + 1));
    return { ...base, eventId: seated.eventId, ticketTypeId: seated.ticketTypeId, seatIds: seated.seatIds.slice(first, first + quantity) };
  });
}
