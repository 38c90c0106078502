// The buyer's page paying through Stripe Elements, in Chromium, with Stripe replaced at the edges:
// the browser's requests to js.stripe.com get a small stand-in of Stripe.js, its confirm call to
// api.stripe.com is answered by the local Stripe stand-in (which marks the PaymentIntent paid), and
// the signed webhook goes to the server, which confirms the purchase; the page shows the tickets.
import type { Browser, Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser.ts';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '../helpers/databases.ts';
import { deliverStripeWebhook, FAKE_STRIPE_KEY, FAKE_STRIPE_WEBHOOK_SECRET, startFakeStripe, type FakeStripe } from '../helpers/fake-stripe.ts';
import { assertPromises, people, saleEvent, settled, type Person } from '../helpers/purchases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const PUBLISHABLE = 'pk_test_localstandin0001';

// Just enough of Stripe.js: a Payment Element that renders a field, and confirmPayment, which (as
// the real one does) confirms the PaymentIntent with Stripe's API from the browser.
const STRIPE_JS = `
window.Stripe = function (key) {
  return {
    elements: function (options) {
      return { create: function () { return { mount: function (el) {
        var input = document.createElement('input'); input.setAttribute('data-testid', 'card-number'); input.value = '4242 4242 4242 4242';
        el.append(input); el.setAttribute('data-key', key); el.setAttribute('data-secret', options.clientSecret);
      } }; } };
    },
    confirmPayment: function (options) {
      var secret = document.querySelector('[data-secret]').getAttribute('data-secret');
      var id = secret.split('_secret_')[0];
      return fetch('https://api.stripe.com/v1/payment_intents/' + id + '/confirm', { method: 'POST' })
        .then(function (r) { return r.json(); })
        .then(function (intent) { return intent.status === 'succeeded' ? { paymentIntent: intent } : { error: { message: 'declined' } }; });
    },
  };
};`;

describe('the buyer page with Stripe Elements', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let stripe: FakeStripe;
  let node: TestServer;
  let browser: Browser;
  let organizer: Person;
  let buyer: Person;

  beforeAll(async () => {
    [db, redis, stripe, browser] = await Promise.all([createTestDatabase(), createTestRedis(), startFakeStripe(), launchChromium()]);
    node = await startTestServer(db, redis, {
      PAYMENT_PROVIDER: 'stripe',
      STRIPE_SECRET_KEY: FAKE_STRIPE_KEY,
      STRIPE_WEBHOOK_SECRET: FAKE_STRIPE_WEBHOOK_SECRET,
      STRIPE_PUBLISHABLE_KEY: PUBLISHABLE,
      STRIPE_API_URL: stripe.url,
    });
    [[organizer], [buyer]] = (await Promise.all([people(db.sql, 1, 'organizer'), people(db.sql, 1)])) as [[Person], [Person]];
  }, 600_000);
  afterAll(async () => {
    await browser?.close();
    await node?.stop();
    await Promise.all([db?.drop(), redis?.cleanup(), stripe?.close()]);
  });

  it('mounts the Payment Element with the PaymentIntent, pays, and shows the tickets once the webhook confirms', async () => {
    const sale = await saleEvent(db.sql, organizer.id, { capacity: 10 });
    const [slug] = await db.sql<{ slug: string }[]>`select slug from events where id = ${sale.eventId}`;
    const context = await browser.newContext();
    await context.addInitScript(`localStorage.setItem('boxoffice.token', ${JSON.stringify(buyer.token)})`);
    await context.route('https://js.stripe.com/**', (route: Route) => route.fulfill({ contentType: 'application/javascript', body: STRIPE_JS }));
    await context.route('https://api.stripe.com/**', async (route: Route) => {
      const id = /payment_intents\/([^/]+)\/confirm/.exec(route.request().url())![1]!;
      const signed = stripe.sign(stripe.pay(id));
      await deliverStripeWebhook(node.api, signed.body, signed.signature);
      await route.fulfill({ contentType: 'application/json', headers: { 'access-control-allow-origin': '*' }, body: JSON.stringify(stripe.intents.get(id)) });
    });
    const page = await context.newPage();
    await page.goto(`${node.url}/#/events/${slug!.slug}`);
    await page.getByLabel('How many Standing').fill('2');
    await page.getByRole('button', { name: 'Hold' }).first().click();
    await page.waitForURL(/#\/purchases\//);

    const form = page.getByTestId('stripe-payment');
    await expect.poll(() => form.getAttribute('data-key')).toBe(PUBLISHABLE);
    const purchaseId = page.url().split('/').at(-1)!;
    const intent = [...stripe.intents.values()].find((i) => i.metadata['purchaseId'] === purchaseId)!;
    expect(await form.getAttribute('data-secret')).toBe(intent.client_secret);
    await page.getByRole('button', { name: /^Pay / }).click();
    await expect.poll(() => page.getByTestId('ticket').count(), { timeout: 5_000 }).toBe(2);
    await expect.poll(() => page.getByTestId('purchase-state').textContent(), { timeout: 2_000 }).toBe('confirmed');
    expect(await settled(db.sql, purchaseId, ['confirmed'])).toBe('confirmed');
    await context.close();
    await assertPromises(db.sql, redis, sale.eventId);
  });
});
