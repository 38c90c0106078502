// Request and response shapes of the catalog, as zod schemas: routes validate with them, the
// OpenAPI document is generated from them, and clients import their types.
import { z } from 'zod';

const CURRENCIES = new Set(Intl.supportedValuesOf('currency'));
const TIME_ZONES = new Set([...Intl.supportedValuesOf('timeZone'), 'UTC']);

export const MAX_SEATS_PER_EVENT = 100_000;
export const MAX_PRICE_MINOR = 100_000_000;
export const MAX_CAPACITY = 1_000_000;

export const currencySchema = z
  .string()
  .length(3)
  .refine((c) => CURRENCIES.has(c), 'not an ISO-4217 currency code');
export const timeZoneSchema = z
  .string()
  .max(64)
  .refine((tz) => TIME_ZONES.has(tz), 'not an IANA time zone');
const instant = z.coerce.date();
const text = (max: number) => z.string().trim().max(max);
export const idSchema = z.guid();

/** Refines `from < to`; the issue names `blame` (by default the later field). */
function windowOrdered<T extends Record<string, unknown>>(from: keyof T & string, to: keyof T & string, message: string, blame: string = to) {
  return (value: T, ctx: z.RefinementCtx) => {
    const a = value[from];
    const b = value[to];
    if (a instanceof Date && b instanceof Date && b <= a) ctx.addIssue({ code: 'custom', path: [blame], message });
  };
}

const eventFields = {
  title: text(200).min(1),
  description: text(10_000).default(''),
  venueName: text(200).optional(),
  venueAddress: text(500).optional(),
  timezone: timeZoneSchema,
  startsAt: instant,
  endsAt: instant,
  salesStartAt: instant,
  salesEndAt: instant,
};

/** The waiting room in front of an event's sale (server/waiting-room). */
const waitingRoomFields = {
  /** An on-sale spike is expected: a waiting room is in force unless `waitingRoom` says otherwise. */
  highDemand: z.boolean(),
  /** Forces the waiting room on or off; null follows `highDemand`. */
  waitingRoom: z.boolean().nullable(),
  /** Visitors admitted per second; null takes the server's WAITING_ROOM_ADMIT_PER_SECOND. */
  admitPerSecond: z.number().int().min(1).max(2000).nullable(),
};

export const createEventSchema = z
  .object({
    ...eventFields,
    ...z.object(waitingRoomFields).partial().shape,
    slug: z
      .string()
      .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'lowercase letters, digits and single dashes')
      .min(3)
      .max(80)
      .optional(),
  })
  .strict()
  .superRefine(windowOrdered('startsAt', 'endsAt', 'must be after startsAt'))
  .superRefine(windowOrdered('salesStartAt', 'salesEndAt', 'must be after salesStartAt'))
  .superRefine(windowOrdered('salesEndAt', 'endsAt', 'sales must end by the end of the event', 'salesEndAt'));
export type CreateEvent = z.infer<typeof createEventSchema>;

// No defaults in a patch: zod applies `.default()` even inside `.partial()`, and an absent field must
// stay as it is (a title-only PATCH would otherwise blank the description).
export const updateEventSchema = z.object({ ...eventFields, description: text(10_000), ...waitingRoomFields }).partial().strict();
export type UpdateEvent = z.infer<typeof updateEventSchema>;

export const eventStatusSchema = z.enum(['draft', 'published', 'cancelled', 'ended']);

export const ticketTypeInputSchema = z
  .object({
    name: text(100).min(1),
    description: text(2000).default(''),
    kind: z.enum(['general', 'seated']),
    priceMinor: z.number().int().min(0).max(MAX_PRICE_MINOR),
    currency: currencySchema,
    /** General admission only; a seated type's capacity is its number of seats. */
    capacity: z.number().int().min(0).max(MAX_CAPACITY).optional(),
    perOrderMax: z.number().int().min(1).max(100).default(10),
    salesStartAt: instant.optional(),
    salesEndAt: instant.optional(),
    sortOrder: z.number().int().min(0).max(1000).default(0),
  })
  .strict()
  .superRefine(windowOrdered('salesStartAt', 'salesEndAt', 'must be after salesStartAt'))
  .superRefine((value, ctx) => {
    if (value.kind === 'general' && value.capacity === undefined) {
      ctx.addIssue({ code: 'custom', path: ['capacity'], message: 'required for general admission' });
    }
    if (value.kind === 'seated' && value.capacity !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['capacity'], message: 'a seated type takes its capacity from the seat map' });
    }
  });
export type TicketTypeInput = z.infer<typeof ticketTypeInputSchema>;

export const ticketTypeUpdateSchema = z
  .object({
    name: text(100).min(1),
    description: text(2000),
    priceMinor: z.number().int().min(0).max(MAX_PRICE_MINOR),
    capacity: z.number().int().min(0).max(MAX_CAPACITY),
    perOrderMax: z.number().int().min(1).max(100),
    salesStartAt: instant.nullable(),
    salesEndAt: instant.nullable(),
    sortOrder: z.number().int().min(0).max(1000),
  })
  .partial()
  .strict()
  .superRefine(windowOrdered('salesStartAt', 'salesEndAt', 'must be after salesStartAt'));
export type TicketTypeUpdate = z.infer<typeof ticketTypeUpdateSchema>;

const seatLabel = z.string().trim().min(1).max(10);
export const seatMapSchema = z
  .object({
    sections: z
      .array(
        z
          .object({
            name: z.string().trim().min(1).max(40),
            rows: z
              .array(
                z
                  .object({
                    label: seatLabel,
                    /** Default ticket type of the row's seats. */
                    ticketTypeId: idSchema.optional(),
                    seats: z
                      .array(
                        z.union([
                          seatLabel,
                          z.object({ number: seatLabel, ticketTypeId: idSchema.optional(), x: z.number().finite().optional(), y: z.number().finite().optional() }).strict(),
                        ]),
                      )
                      .min(1)
                      .max(MAX_SEATS_PER_EVENT),
                  })
                  .strict(),
              )
              .min(1)
              .max(MAX_SEATS_PER_EVENT),
          })
          .strict(),
      )
      .min(1)
      .max(1000),
  })
  .strict();
export type SeatMapInput = z.infer<typeof seatMapSchema>;

export const promoCodeInputSchema = z
  .object({
    code: z
      .string()
      .trim()
      .toUpperCase()
      .regex(/^[A-Z0-9_-]{3,32}$/, '3 to 32 letters, digits, _ or -'),
    percentOff: z.number().int().min(1).max(100).optional(),
    amountOffMinor: z.number().int().min(1).max(MAX_PRICE_MINOR).optional(),
    maxUses: z.number().int().min(1).max(MAX_CAPACITY).optional(),
    perCustomerLimit: z.number().int().min(1).max(100).optional(),
    validFrom: instant.optional(),
    validUntil: instant.optional(),
    ticketTypeIds: z.array(idSchema).max(100).default([]),
  })
  .strict()
  .superRefine(windowOrdered('validFrom', 'validUntil', 'must be after validFrom'))
  .superRefine((value, ctx) => {
    if ((value.percentOff === undefined) === (value.amountOffMinor === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['percentOff'], message: 'give exactly one of percentOff or amountOffMinor' });
    }
  });
export type PromoCodeInput = z.infer<typeof promoCodeInputSchema>;

// Responses

export const ticketTypeSchema = z.object({
  id: z.string(),
  eventId: z.string(),
  name: z.string(),
  description: z.string(),
  kind: z.enum(['general', 'seated']),
  priceMinor: z.number(),
  currency: z.string(),
  capacity: z.number(),
  sold: z.number(),
  perOrderMax: z.number(),
  salesStartAt: z.date().nullable(),
  salesEndAt: z.date().nullable(),
  status: z.enum(['on_sale', 'closed']),
  sortOrder: z.number(),
});
export type TicketType = z.infer<typeof ticketTypeSchema>;

export const eventSchema = z.object({
  id: z.string(),
  organizerId: z.string(),
  slug: z.string(),
  title: z.string(),
  description: z.string(),
  venueName: z.string().nullable(),
  venueAddress: z.string().nullable(),
  timezone: z.string(),
  startsAt: z.date(),
  endsAt: z.date(),
  salesStartAt: z.date(),
  salesEndAt: z.date(),
  status: eventStatusSchema,
  publishedAt: z.date().nullable(),
  cancelledAt: z.date().nullable(),
  createdAt: z.date(),
  updatedAt: z.date(),
  ...waitingRoomFields,
  /** Whether a waiting room stands in front of the sale: holds need an admission token. */
  waitingRoomInForce: z.boolean(),
});
export type CatalogEvent = z.infer<typeof eventSchema>;

export const promoCodeSchema = z.object({
  id: z.string(),
  eventId: z.string(),
  code: z.string(),
  discountKind: z.enum(['percent', 'fixed']),
  percentOff: z.number().nullable(),
  amountOffMinor: z.number().nullable(),
  maxUses: z.number().nullable(),
  uses: z.number(),
  perCustomerLimit: z.number().nullable(),
  validFrom: z.date().nullable(),
  validUntil: z.date().nullable(),
  ticketTypeIds: z.array(z.string()),
});
export type PromoCode = z.infer<typeof promoCodeSchema>;
