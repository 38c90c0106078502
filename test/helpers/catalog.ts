// A valid event body for the organizer API, dated relative to now.
const DAY = 24 * 3600 * 1000;

export const daysFromNow = (days: number) => new Date(Date.now() + days * DAY).toISOString();

export function eventBody(overrides: Record<string, unknown> = {}) {
  return {
    title: 'Spring Concert',
    description: 'Strings and brass',
    venueName: 'Hall One',
    timezone: 'Europe/Berlin',
    startsAt: daysFromNow(30),
    endsAt: daysFromNow(30.2),
    salesStartAt: daysFromNow(-1),
    salesEndAt: daysFromNow(29),
    ...overrides,
  };
}
