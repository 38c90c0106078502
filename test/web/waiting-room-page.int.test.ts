// The buyer's page in front of a waiting room, in real Chromium against a real server: the rooms
// run on a clock the test drives (the server's own rounds run too, on the same clock, so whichever
// runs a round the outcome is the same). A buyer joins the line, sees the lottery, then a position
// that moves live, is admitted, and holds with the admission token; a refused token says so; a
// turn left unused is lost and the buyer joins again. An event without a room shows no line.
import { mkdirSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdmissionTokens } from '../../server/waiting-room/index.ts';
import { launchChromium } from '../helpers/browser.ts';
import { testConfig } from '../helpers/config.ts';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '../helpers/databases.ts';
import { people, saleEvent, settled, type Person } from '../helpers/purchases.ts';
import { call, startTestServer, type TestServer } from '../helpers/server.ts';

const ENV = {
  RATE_LIMIT_GLOBAL_PER_MINUTE: '100000',
  WAITING_ROOM_TICK_MS: '100',
  // The rooms' clock runs about a minute behind the wall clock the page counts down with.
  WAITING_ROOM_HOLD_WINDOW_SECONDS: '600',
};
const DAY = 24 * 3600 * 1000;
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);
/** Bounded waits for what the page shows after a push (the machine may be busy). */
const SHOWN = { timeout: 10_000, interval: 50 };

interface Status {
  state: string;
  number: number | null;
  expiresAt: string | null;
}

describe('the buyer page with a waiting room', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let node: TestServer;
  let browser: Browser;
  let organizer: Person;
  let buyers: Person[];
  const contexts: BrowserContext[] = [];
  const pageErrors: Error[] = [];
  let clock = Date.now();

  beforeAll(async () => {
    [db, redis, browser] = await Promise.all([createTestDatabase(), createTestRedis(), launchChromium()]);
    node = await startTestServer(db, redis, ENV, { waitingRoomClock: () => clock });
    [[organizer], buyers] = (await Promise.all([people(db.sql, 1, 'organizer'), people(db.sql, 6)])) as [[Person], Person[]];
  }, 600_000);
  afterAll(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await node?.stop();
    await Promise.all([db?.drop(), redis?.cleanup()]);
  });

  async function page(who: Person): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
    contexts.push(context);
    await context.addInitScript(`localStorage.setItem('boxoffice.token', ${JSON.stringify(who.token)})`);
    const p = await context.newPage();
    p.on('pageerror', (err) => pageErrors.push(err));
    return p;
  }

  /** A published event with a room (highDemand), one standing type, sales opened a minute ago by the wall clock. */
  async function highDemandEvent() {
    const salesStart = Date.now() - 60_000;
    const created = await call<{ id: string; slug: string }>(`${node.api}/organizer/events`, {
      token: organizer.token,
      body: {
        title: 'The Big One',
        timezone: 'UTC',
        startsAt: new Date(Date.now() + 10 * DAY).toISOString(),
        endsAt: new Date(Date.now() + 10.2 * DAY).toISOString(),
        salesStartAt: new Date(salesStart).toISOString(),
        salesEndAt: new Date(Date.now() + 9 * DAY).toISOString(),
        highDemand: true,
        admitPerSecond: 1,
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const { id: eventId, slug } = created.body;
    const type = await call<{ id: string }>(`${node.api}/organizer/events/${eventId}/ticket-types`, {
      token: organizer.token,
      body: { name: 'Standing', kind: 'general', priceMinor: 5000, currency: 'EUR', capacity: 100 },
    });
    expect(type.status, JSON.stringify(type.body)).toBe(201);
    expect((await call(`${node.api}/organizer/events/${eventId}/publish`, { token: organizer.token, body: {} })).status).toBe(200);
    return { eventId, slug, salesStart };
  }

  const round = () => node.server.waitingRoom.tick();
  const join = (who: Person, eventId: string) => call<Status>(`${node.api}/events/${eventId}/waiting-room`, { method: 'POST', token: who.token });
  const standing = async (who: Person, eventId: string) => (await call<Status>(`${node.api}/events/${eventId}/waiting-room`, { token: who.token })).body;
  const room = (p: Page) => p.getByTestId('waiting-room');
  const shown = (p: Page) => room(p).getAttribute('data-state');
  const position = (p: Page) => room(p).getAttribute('data-position');
  const holdButton = (p: Page) => p.getByRole('button', { name: 'Hold', exact: true });
  const screenshot = async (p: Page, name: string) => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await p.screenshot({ path: new URL(name, ARTIFACTS).pathname });
  };
  const isPurchase = (method: string, url: string) => method === 'POST' && new URL(url).pathname === '/api/v1/purchases';

  it('a buyer joins, watches the position move live, is admitted and holds with the admission token', async () => {
    const { eventId, slug, salesStart } = await highDemandEvent();
    const [buyer, early1, early2] = buyers as [Person, Person, Person];
    // Two came before the on-sale instant (the lottery); the draw puts them at 1 and 2.
    clock = salesStart - 5_000;
    for (const who of [early1, early2]) expect((await join(who, eventId)).body.state).toBe('waiting');
    clock = salesStart;
    await round();

    const p = await page(buyer);
    await p.goto(`${node.url}/#/events/${slug}`);
    await expect.poll(() => shown(p), SHOWN).toBe('none');
    expect(await holdButton(p).isDisabled()).toBe(true);
    await p.getByRole('button', { name: 'Join the line' }).click();
    // After the draw places go in arrival order: third.
    await expect.poll(() => position(p), SHOWN).toBe('3');
    await expect.poll(() => room(p).getAttribute('data-live'), SHOWN).toBe('true');
    expect(await p.getByTestId('queue-position').textContent()).toBe('3');
    expect(await room(p).textContent()).toMatch(/Estimated wait: less than a minute/);
    expect(await holdButton(p).isDisabled()).toBe(true);
    await screenshot(p, 'waiting-room-position.png');

    // One a second: the line moves and the page follows from the `queue` messages, then the buyer is admitted.
    for (const expected of ['2', '1']) {
      clock += 1_000;
      await round();
      await expect.poll(() => position(p), SHOWN).toBe(expected);
    }
    clock += 1_000;
    await round();
    await expect.poll(() => shown(p), SHOWN).toBe('admitted');
    await expect.poll(() => holdButton(p).isEnabled(), SHOWN).toBe(true);
    expect(await p.getByTestId('admission-countdown').textContent()).toMatch(/^\d+:\d\d$/);
    expect((await standing(buyer, eventId)).state).toBe('admitted');
    await screenshot(p, 'waiting-room-admitted.png');

    // A token the server refuses: a clear message, no purchase, and the page still works.
    await p.route('**/api/v1/purchases', (route) => route.continue({ headers: { ...route.request().headers(), 'admission-token': 'not-an-admission' } }));
    const refused = p.waitForResponse((r) => isPurchase(r.request().method(), r.url()));
    await holdButton(p).click();
    expect((await refused).status()).toBe(403);
    await expect.poll(() => p.getByTestId('admission-refused').textContent(), SHOWN).toMatch(/admission .* not accepted/);
    await screenshot(p, 'waiting-room-refused.png');
    await p.unroute('**/api/v1/purchases');
    expect((await db.sql`select 1 from purchases where customer_id = ${buyer.id}`).length).toBe(0);

    await expect.poll(() => holdButton(p).isEnabled(), SHOWN).toBe(true);
    const held = p.waitForResponse((r) => isPurchase(r.request().method(), r.url()));
    await holdButton(p).click();
    const response = await held;
    expect(response.status()).toBe(201);
    const admission = (await response.request().allHeaders())['admission-token'];
    await createAdmissionTokens(testConfig().auth.jwtSecret).verify(admission, { accountId: buyer.id, eventId }, clock);

    await p.waitForURL(/#\/purchases\//);
    const purchaseId = p.url().split('/').at(-1)!;
    await expect.poll(() => p.getByTestId('purchase-state').textContent(), SHOWN).toBe('paying');
    expect(await settled(db.sql, purchaseId, ['paying'])).toBe('paying');
    const [row] = await db.sql<{ event_id: string; customer_id: string }[]>`select event_id, customer_id from purchases where id = ${purchaseId}`;
    expect(row).toEqual({ event_id: eventId, customer_id: buyer.id });
    expect(pageErrors).toEqual([]);
  });

  it('the lottery, the number drawn at the on-sale instant, a turn lost, and joining again', async () => {
    const { eventId, slug, salesStart } = await highDemandEvent();
    const buyer = buyers[3]!;
    clock = salesStart - 5_000;
    const p = await page(buyer);
    await p.goto(`${node.url}/#/events/${slug}`);
    await p.getByRole('button', { name: 'Join the line' }).click();
    await expect.poll(() => shown(p), SHOWN).toBe('lottery');
    await expect.poll(() => room(p).getAttribute('data-live'), SHOWN).toBe('true');
    expect(await room(p).textContent()).toMatch(/drawn at random when the sale opens/);
    expect(await holdButton(p).isDisabled()).toBe(true);
    await screenshot(p, 'waiting-room-lottery.png');

    // The draw: the buyer is told their number over the socket; a second later, admitted.
    clock = salesStart;
    await round();
    await expect.poll(() => position(p), SHOWN).toBe('1');
    clock += 1_000;
    await round();
    await expect.poll(() => shown(p), SHOWN).toBe('admitted');
    await expect.poll(() => holdButton(p).isEnabled(), SHOWN).toBe(true);

    // The window passes without a hold: the turn is lost, the page says so and offers to join again.
    const { expiresAt } = await standing(buyer, eventId);
    clock = Date.parse(expiresAt!);
    await round();
    await expect.poll(() => shown(p), SHOWN).toBe('expired');
    expect(await room(p).textContent()).toMatch(/You missed your turn/);
    await screenshot(p, 'waiting-room-turn-lost.png');
    expect(await holdButton(p).isDisabled()).toBe(true);
    await p.getByRole('button', { name: 'Join again' }).click();
    await expect.poll(() => position(p), SHOWN).toBe('1');
    expect(await standing(buyer, eventId)).toMatchObject({ state: 'waiting', number: 2 });
    expect(pageErrors).toEqual([]);
  });

  it('an event without a room shows no line and holds as before, without a token', async () => {
    const sale = await saleEvent(db.sql, organizer.id, { capacity: 5 });
    const [event] = await db.sql<{ slug: string }[]>`select slug from events where id = ${sale.eventId}`;
    const p = await page(buyers[4]!);
    await p.goto(`${node.url}/#/events/${event!.slug}`);
    await expect.poll(() => holdButton(p).isEnabled(), SHOWN).toBe(true);
    expect(await room(p).count()).toBe(0);
    const held = p.waitForResponse((r) => isPurchase(r.request().method(), r.url()));
    await holdButton(p).click();
    const response = await held;
    expect(response.status()).toBe(201);
    expect((await response.request().allHeaders())['admission-token']).toBeUndefined();
    await p.waitForURL(/#\/purchases\//);
    expect(pageErrors).toEqual([]);
  });
});
