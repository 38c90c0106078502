// Catalog: events, ticket types, seat maps and promo codes that organizers manage and buyers browse.
import type { Sql } from '../store/index.ts';
import { createEvents } from './events.ts';
import { createPromoCodes } from './promo-codes.ts';
import { createPublicCatalog } from './public.ts';
import { catalogRoutes } from './routes.ts';
import { createSeatMaps, type SeatStates } from './seat-map.ts';
import { createTicketTypes, type HeldCount } from './ticket-types.ts';

export { DEMO_EVENT_SLUG, DEMO_ORGANIZER_EMAIL, seedDemo, type DemoSeed } from './demo-seed.ts';
export { MAX_SEATS_PER_EVENT, type CatalogEvent, type SeatMapInput, type TicketType } from './schemas.ts';
export type { HeldCount } from './ticket-types.ts';
export type { SeatStates } from './seat-map.ts';

export interface CatalogDeps {
  sql: Sql;
  /** Inventory's live holds; until purchases exist nothing is held. */
  heldCount?: HeldCount;
  seatStates?: SeatStates;
  /** Called once an event's cancellation is committed (purchases refund its sales). */
  onEventCancelled?: (eventId: string) => Promise<void>;
}

const nothingHeld: HeldCount = () => Promise.resolve(0);
const noSeatStates: SeatStates = () => Promise.resolve({ held: new Set(), sold: new Set() });

export function createCatalog({ sql, heldCount = nothingHeld, seatStates = noSeatStates, onEventCancelled }: CatalogDeps) {
  const events = createEvents(sql, onEventCancelled ? { onCancelled: onEventCancelled } : {});
  const ticketTypes = createTicketTypes(sql, heldCount);
  const seatMaps = createSeatMaps(sql, heldCount, seatStates);
  const promoCodes = createPromoCodes(sql);
  const publicCatalog = createPublicCatalog(sql, heldCount);
  return {
    events,
    ticketTypes,
    seatMaps,
    promoCodes,
    publicCatalog,
    routes: catalogRoutes({ sql, events, ticketTypes, seatMaps, promoCodes, publicCatalog }),
  };
}

export type Catalog = ReturnType<typeof createCatalog>;
