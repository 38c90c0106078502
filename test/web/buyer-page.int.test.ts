// The buyer's page in real Chromium against a real server: two pages watch one event; one holds
// seats and pays with the sandbox, the other sees the count drop and the seats turn held, then
// sold, within a second; a hold left to expire returns its seats on both pages. A screenshot of
// the event page is kept in test-artifacts/.
import { mkdirSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser.ts';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '../helpers/databases.ts';
import { assertPromises, people, saleEvent, settled, type Person } from '../helpers/purchases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);

describe('the buyer page in Chromium', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let node: TestServer;
  let brief: TestServer;
  let browser: Browser;
  let organizer: Person;
  let buyers: Person[];
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    [db, redis, browser] = await Promise.all([createTestDatabase(), createTestRedis(), launchChromium()]);
    // `brief` holds for 3 s: long enough to see the countdown, short enough to watch it end.
    [node, brief] = await Promise.all([startTestServer(db, redis), startTestServer(db, redis, { HOLD_TTL_SECONDS: '3' })]);
    const [organizers, customers] = await Promise.all([people(db.sql, 1, 'organizer'), people(db.sql, 4)]);
    organizer = organizers[0]!;
    buyers = customers;
  }, 600_000);
  afterAll(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await Promise.all([node?.stop(), brief?.stop()]);
    await Promise.all([db?.drop(), redis?.cleanup()]);
  });

  async function page(server: TestServer, who?: Person, viewport = { width: 1000, height: 900 }): Promise<Page> {
    const context = await browser.newContext({ viewport });
    contexts.push(context);
    if (who) await context.addInitScript(`localStorage.setItem('boxoffice.token', ${JSON.stringify(who.token)})`);
    const p = await context.newPage();
    p.on('pageerror', (err) => {
      throw err;
    });
    return p;
  }

  const seatCounts = async (p: Page) => {
    const el = p.getByTestId('seat-counts');
    return { free: Number(await el.getAttribute('data-free')), held: Number(await el.getAttribute('data-held')), sold: Number(await el.getAttribute('data-sold')) };
  };

  it('a watcher sees another buyer hold, then buy, two seats within a second', async () => {
    const sale = await saleEvent(db.sql, organizer.id, { capacity: 10, seats: 40 });
    const [slug] = await db.sql<{ slug: string }[]>`select slug from events where id = ${sale.eventId}`;
    const buyerPage = await page(node, buyers[0]);
    const watcherPage = await page(node, undefined, { width: 390, height: 844 }); // a phone
    for (const p of [buyerPage, watcherPage]) await p.goto(`${node.url}/#/events/${slug!.slug}`);
    await expect.poll(() => seatCounts(watcherPage)).toEqual({ free: 40, held: 0, sold: 0 });
    mkdirSync(ARTIFACTS, { recursive: true });
    await watcherPage.screenshot({ path: new URL('event-page-phone.png', ARTIFACTS).pathname, fullPage: true });

    await buyerPage.getByLabel('Seats by row and number').fill('R1-1, R1-2');
    await buyerPage.getByLabel('Seats by row and number').press('Enter');
    const hold = buyerPage.getByRole('button', { name: 'Hold 2 seats' });
    await hold.click();
    const heldAt = Date.now();
    await expect.poll(() => seatCounts(watcherPage), { timeout: 1_000, interval: 25 }).toEqual({ free: 38, held: 2, sold: 0 });
    expect(Date.now() - heldAt).toBeLessThan(1_000);
    expect(await watcherPage.getByTestId(`avail-${sale.seated}`).textContent()).toBe('38');

    await buyerPage.waitForURL(/#\/purchases\//);
    expect(await buyerPage.getByTestId('purchase-state').textContent()).toBe('paying');
    expect(await buyerPage.getByTestId('countdown').textContent()).toMatch(/^\d+:\d\d$/);
    await buyerPage.screenshot({ path: new URL('purchase-page.png', ARTIFACTS).pathname });
    await buyerPage.getByRole('button', { name: /^Pay .* \(sandbox\)$/ }).click();
    const paidAt = Date.now();
    await expect.poll(() => seatCounts(watcherPage), { timeout: 1_000, interval: 25 }).toEqual({ free: 38, held: 0, sold: 2 });
    expect(Date.now() - paidAt).toBeLessThan(1_000);
    await expect.poll(() => buyerPage.getByTestId('ticket').count(), { timeout: 2_000 }).toBe(2);
    await expect.poll(() => buyerPage.getByTestId('purchase-state').textContent(), { timeout: 2_000 }).toBe('confirmed');
    const purchaseId = buyerPage.url().split('/').at(-1)!;
    expect(await settled(db.sql, purchaseId, ['confirmed'])).toBe('confirmed');
    await assertPromises(db.sql, redis, sale.eventId);
  });

  it('a hold that runs out returns its seats on both pages', async () => {
    const sale = await saleEvent(db.sql, organizer.id, { capacity: 10, seats: 20 });
    const [slug] = await db.sql<{ slug: string }[]>`select slug from events where id = ${sale.eventId}`;
    const buyerPage = await page(brief, buyers[1]);
    const watcherPage = await page(brief);
    for (const p of [buyerPage, watcherPage]) await p.goto(`${brief.url}/#/events/${slug!.slug}`);
    await expect.poll(() => seatCounts(watcherPage)).toEqual({ free: 20, held: 0, sold: 0 });
    await buyerPage.getByLabel('Seats by row and number').fill('R1-5');
    await buyerPage.getByLabel('Seats by row and number').press('Enter');
    await buyerPage.getByRole('button', { name: 'Hold 1 seat' }).click();
    await expect.poll(() => seatCounts(watcherPage), { timeout: 1_000, interval: 25 }).toEqual({ free: 19, held: 1, sold: 0 });
    await buyerPage.waitForURL(/#\/purchases\//);
    // The countdown ends, the purchase expires, and the seat is free again everywhere.
    await expect.poll(() => buyerPage.getByTestId('purchase-state').textContent(), { timeout: 8_000 }).toBe('expired');
    await expect.poll(() => seatCounts(watcherPage), { timeout: 2_000, interval: 25 }).toEqual({ free: 20, held: 0, sold: 0 });
    await buyerPage.goto(`${brief.url}/#/events/${slug!.slug}`);
    await expect.poll(() => seatCounts(buyerPage)).toEqual({ free: 20, held: 0, sold: 0 });
    await assertPromises(db.sql, redis, sale.eventId);
  });

  it('a 100,000-seat map loads, stays live, and a typed seat can be held', async () => {
    const sale = await saleEvent(db.sql, organizer.id, { capacity: 0, seats: 100_000, perOrderMax: 4 });
    const [slug] = await db.sql<{ slug: string }[]>`select slug from events where id = ${sale.eventId}`;
    const buyerPage = await page(node, buyers[2]);
    const watcherPage = await page(node);
    const opened = Date.now();
    for (const p of [buyerPage, watcherPage]) await p.goto(`${node.url}/#/events/${slug!.slug}`);
    await expect.poll(() => seatCounts(watcherPage), { timeout: 20_000 }).toEqual({ free: 100_000, held: 0, sold: 0 });
    const loadedMs = Date.now() - opened;
    await buyerPage.getByLabel('Seats by row and number').fill('R5000-20');
    await buyerPage.getByLabel('Seats by row and number').press('Enter');
    await buyerPage.getByRole('button', { name: 'Hold 1 seat' }).click();
    await expect.poll(() => seatCounts(watcherPage), { timeout: 1_000, interval: 25 }).toEqual({ free: 99_999, held: 1, sold: 0 });
    mkdirSync(ARTIFACTS, { recursive: true });
    await watcherPage.screenshot({ path: new URL('seat-map-100k.png', ARTIFACTS).pathname });
    process.stdout.write(`100,000-seat map: two pages showed it live ${loadedMs} ms after opening\n`);
  }, 60_000);
});
