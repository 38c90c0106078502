// A local stand-in for the part of Stripe's REST API the adapter uses, for tests: the real SDK
// talks to it over HTTP (form-encoded bodies with bracket keys, JSON answers, Stripe's error
// shapes, idempotency keys honoured). Tests play the buyer's bank with pay()/decline(), and get
// webhooks signed by the SDK's own generateTestHeaderString.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';

export const FAKE_STRIPE_KEY = 'sk_test_localstandin0001';
export const FAKE_STRIPE_WEBHOOK_SECRET = 'whsec_localstandin0001';

/** Keys of test mode made up at run time (a stand-in's only; never live-mode keys). */
export function makeFakeStripeKeys(): { apiKey: string; webhookSecret: string } {
  return { apiKey: `sk_test_${randomBytes(16).toString('hex')}`, webhookSecret: `whsec_${randomBytes(24).toString('hex')}` };
}

interface Intent {
  id: string;
  object: 'payment_intent';
  amount: number;
  amount_received: number;
  currency: string;
  status: 'requires_payment_method' | 'succeeded' | 'canceled';
  client_secret: string;
  metadata: Record<string, string>;
  last_payment_error: { code: string; message: string } | null;
  cancellation_reason: string | null;
  receipt_email: string | null;
}

interface RefundRecord {
  id: string;
  object: 'refund';
  amount: number;
  payment_intent: string;
  status: 'succeeded';
  currency: string;
}

const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;

/** `metadata[purchaseId]=x&amount=5` -> { metadata: { purchaseId: 'x' }, amount: '5' } */
function parseForm(body: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const path = key.replace(/\]/g, '').split('[');
    let node = out;
    for (const part of path.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
    node[path.at(-1)!] = value;
  }
  return out;
}

export interface FakeStripe {
  url: string;
  intents: Map<string, Intent>;
  refunds: RefundRecord[];
  /** Requests seen, for assertions: method, path, idempotency key. */
  requests: { method: string; path: string; idempotencyKey: string | undefined }[];
  /** The buyer pays: the intent succeeds. Returns the webhook event Stripe would send. */
  pay(intentId: string): Stripe.Event;
  /** The buyer's card is declined. */
  decline(intentId: string, code?: string): Stripe.Event;
  /** Any event, e.g. of a type boxoffice does not act on, or with a tampered amount. */
  event(type: string, object: object): Stripe.Event;
  /** Signs an event as Stripe does (optionally at another time, e.g. outside the tolerance). */
  sign(event: object, options?: { secret?: string; timestamp?: number }): { body: string; signature: string };
  /** Runs once when the next cancel arrives, before it is answered (to race a payment against it). */
  onNextCancel(hook: (intent: Intent) => Promise<void> | void): void;
  close(): Promise<void>;
}

/** `keys`: the API key it accepts and the secret it signs webhooks with (by default the fixed ones above). */
export async function startFakeStripe(keys: { apiKey?: string; webhookSecret?: string } = {}): Promise<FakeStripe> {
  const apiKey = keys.apiKey ?? FAKE_STRIPE_KEY;
  const webhookSecret = keys.webhookSecret ?? FAKE_STRIPE_WEBHOOK_SECRET;
  const intents = new Map<string, Intent>();
  const refunds: RefundRecord[] = [];
  const requests: FakeStripe['requests'] = [];
  const replays = new Map<string, { status: number; body: unknown; params: string }>();
  const signer = new Stripe(apiKey);
  let cancelHook: ((intent: Intent) => Promise<void> | void) | null = null;

  const error = (status: number, type: string, message: string, code?: string) => ({ status, body: { error: { type, message, ...(code ? { code } : {}) } } });

  async function route(method: string, path: string, params: Record<string, unknown>): Promise<{ status: number; body: unknown }> {
    const intentPath = /^\/v1\/payment_intents\/([^/]+)(\/cancel)?$/.exec(path);
    if (method === 'POST' && path === '/v1/payment_intents') {
      const amount = Number(params['amount']);
      if (!Number.isInteger(amount) || amount < 1) return error(400, 'invalid_request_error', 'Invalid integer: amount', 'parameter_invalid_integer');
      const intent: Intent = {
        id: id('pi'),
        object: 'payment_intent',
        amount,
        amount_received: 0,
        currency: String(params['currency']),
        status: 'requires_payment_method',
        client_secret: '',
        metadata: (params['metadata'] as Record<string, string> | undefined) ?? {},
        last_payment_error: null,
        cancellation_reason: null,
        receipt_email: (params['receipt_email'] as string | undefined) ?? null,
      };
      intent.client_secret = `${intent.id}_secret_${randomBytes(8).toString('hex')}`;
      intents.set(intent.id, intent);
      return { status: 200, body: intent };
    }
    if (intentPath) {
      const intent = intents.get(intentPath[1]!);
      if (!intent) return error(404, 'invalid_request_error', `No such payment_intent: '${intentPath[1]}'`, 'resource_missing');
      if (method === 'GET' && !intentPath[2]) return { status: 200, body: intent };
      if (method === 'POST' && intentPath[2]) {
        const hook = cancelHook;
        cancelHook = null;
        await hook?.(intent);
        if (intent.status === 'succeeded' || intent.status === 'canceled') {
          return error(400, 'invalid_request_error', `You cannot cancel this PaymentIntent because it has a status of ${intent.status}.`, 'payment_intent_unexpected_state');
        }
        intent.status = 'canceled';
        intent.cancellation_reason = (params['cancellation_reason'] as string | undefined) ?? null;
        return { status: 200, body: intent };
      }
    }
    if (method === 'POST' && path === '/v1/refunds') {
      const intent = intents.get(String(params['payment_intent']));
      if (!intent) return error(404, 'invalid_request_error', 'No such payment_intent', 'resource_missing');
      if (intent.status !== 'succeeded') return error(400, 'invalid_request_error', 'This PaymentIntent does not have a successful charge to refund.', 'charge_not_refundable');
      const already = refunds.filter((r) => r.payment_intent === intent.id).reduce((sum, r) => sum + r.amount, 0);
      const amount = params['amount'] === undefined ? intent.amount_received - already : Number(params['amount']);
      if (amount < 1 || already + amount > intent.amount_received) {
        return error(400, 'invalid_request_error', `Refund amount (${amount}) is greater than unrefunded amount on charge`, 'amount_too_large');
      }
      const refund: RefundRecord = { id: id('re'), object: 'refund', amount, payment_intent: intent.id, status: 'succeeded', currency: intent.currency };
      refunds.push(refund);
      return { status: 200, body: refund };
    }
    return error(404, 'invalid_request_error', `Unrecognized request URL (${method}: ${path}).`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    let raw = '';
    for await (const chunk of req) raw += String(chunk);
    const path = (req.url ?? '/').split('?')[0]!;
    const key = req.headers['idempotency-key'] as string | undefined;
    requests.push({ method: req.method ?? 'GET', path, idempotencyKey: key });
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'request-id': id('req') });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      return send(401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } });
    }
    const replayKey = key ? `${req.method} ${path} ${key}` : null;
    const earlier = replayKey ? replays.get(replayKey) : undefined;
    if (earlier) {
      if (earlier.params !== raw) {
        return send(400, { error: { type: 'idempotency_error', message: 'Keys for idempotent requests can only be used with the same parameters they were first used with.' } });
      }
      return send(earlier.status, earlier.body);
    }
    const result = await route(req.method ?? 'GET', path, parseForm(raw));
    if (replayKey) replays.set(replayKey, { ...result, params: raw });
    send(result.status, result.body);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { type: 'api_error', message: String(err) } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  function event(type: string, object: object): Stripe.Event {
    return {
      id: id('evt'),
      object: 'event',
      api_version: '2025-01-01',
      created: Math.floor(Date.now() / 1000),
      type,
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      data: { object: structuredClone(object) },
    } as unknown as Stripe.Event;
  }

  return {
    url: `http://127.0.0.1:${port}`,
    intents,
    refunds,
    requests,
    pay(intentId) {
      const intent = intents.get(intentId)!;
      intent.status = 'succeeded';
      intent.amount_received = intent.amount;
      return event('payment_intent.succeeded', intent);
    },
    decline(intentId, code = 'card_declined') {
      const intent = intents.get(intentId)!;
      intent.last_payment_error = { code, message: 'Your card was declined.' };
      return event('payment_intent.payment_failed', intent);
    },
    event,
    sign(payload, options = {}) {
      const body = JSON.stringify(payload);
      const signature = signer.webhooks.generateTestHeaderString({
        payload: body,
        secret: options.secret ?? webhookSecret,
        ...(options.timestamp !== undefined ? { timestamp: options.timestamp } : {}),
      });
      return { body, signature };
    },
    onNextCancel(hook) {
      cancelHook = hook;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** POSTs a signed (or deliberately mis-signed) webhook to a boxoffice node. */
export async function deliverStripeWebhook(api: string, body: string, signature: string | null) {
  const res = await fetch(`${api}/webhooks/stripe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8', ...(signature === null ? {} : { 'stripe-signature': signature }) },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
