// What a run sells and who buys: E published events on sale now (each one ticket type, standing or
// seated), and one account with a signed access token per buyer, made straight in the database
// (load-tests/harness.ts), so a spike of thousands needs no sign-up flow.
import type { Config } from '../../server/config.ts';
import type { Sql } from '../../server/store/index.ts';
import { benchEvent, benchPeople } from '../harness.ts';
import { kindOf } from './options.ts';
import type { SaleEvent } from './plan.ts';
import type { Options } from './scenarios.ts';

/** What a run sells, who buys, and a standing event of its own for warming the nodes up before the ramp. */
const WARMUP_CAPACITY = 10_000;

export async function seedSale(sql: Sql, config: Config, options: Options): Promise<{ events: SaleEvent[]; warmup: SaleEvent; tokens: string[] }> {
  const { organizerId, tokens } = await benchPeople(sql, config, options.buyers);
  const events: SaleEvent[] = [];
  for (let i = 0; i < options.events; i++) {
    const kind = kindOf(options, i);
    const created = await benchEvent(sql, organizerId, options.capacity, kind);
    events.push({ ...created, kind, capacity: options.capacity });
  }
  const warmup = { ...(await benchEvent(sql, organizerId, WARMUP_CAPACITY)), kind: 'general' as const, capacity: WARMUP_CAPACITY };
  return { events, warmup, tokens };
}
