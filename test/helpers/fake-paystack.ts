// A local stand-in for the part of Paystack's API the adapter uses, for tests: initialise and
// verify transactions, list and create refunds, with Paystack's `{ status, message, data }`
// envelope. Tests play the buyer with pay()/fail() and sign webhooks as Paystack does
// (HMAC-SHA512 of the raw body under the secret key).
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const FAKE_PAYSTACK_KEY = 'sk_test_localpaystack0001';

interface Transaction {
  id: number;
  reference: string;
  amount: number;
  currency: string;
  status: 'ongoing' | 'success' | 'failed' | 'abandoned';
  email: string;
  metadata: Record<string, unknown> | null;
  gateway_response: string | null;
  authorization_url: string;
}

interface Refund {
  id: number;
  transaction: string;
  amount: number;
  merchant_note: string | null;
  status: 'pending';
}

export interface PaystackEvent {
  event: string;
  data: Record<string, unknown>;
}

export interface FakePaystack {
  url: string;
  transactions: Map<string, Transaction>;
  refunds: Refund[];
  pay(reference: string): PaystackEvent;
  fail(reference: string): PaystackEvent;
  sign(event: unknown, secret?: string): { body: string; signature: string };
  close(): Promise<void>;
}

export async function startFakePaystack(): Promise<FakePaystack> {
  const transactions = new Map<string, Transaction>();
  const refunds: Refund[] = [];
  let ids = 1000;

  function route(method: string, url: URL, body: Record<string, unknown>): { status: number; body: unknown } {
    const fail = (status: number, message: string) => ({ status, body: { status: false, message } });
    const ok = (data: unknown, message = 'ok') => ({ status: 200, body: { status: true, message, data } });
    if (method === 'POST' && url.pathname === '/transaction/initialize') {
      const reference = String(body['reference']);
      if (transactions.has(reference)) return fail(400, 'Duplicate Transaction Reference');
      if (!Number.isInteger(body['amount']) || !body['email']) return fail(400, 'Invalid amount or email');
      const t: Transaction = {
        id: ids++,
        reference,
        amount: body['amount'] as number,
        currency: typeof body['currency'] === 'string' ? body['currency'] : 'NGN',
        status: 'ongoing',
        email: typeof body['email'] === 'string' ? body['email'] : '',
        metadata: (body['metadata'] as Record<string, unknown> | undefined) ?? null,
        gateway_response: null,
        authorization_url: `https://checkout.paystack.test/${reference}`,
      };
      transactions.set(reference, t);
      return ok({ authorization_url: t.authorization_url, access_code: `ac_${t.id}`, reference }, 'Authorization URL created');
    }
    const verify = /^\/transaction\/verify\/(.+)$/.exec(url.pathname);
    if (method === 'GET' && verify) {
      const t = transactions.get(decodeURIComponent(verify[1]!));
      return t ? ok(t, 'Verification successful') : fail(404, 'Transaction reference not found');
    }
    if (method === 'GET' && url.pathname === '/refund') {
      return ok(refunds.filter((r) => r.transaction === url.searchParams.get('transaction')));
    }
    if (method === 'POST' && url.pathname === '/refund') {
      const t = transactions.get(String(body['transaction']));
      if (!t) return fail(404, 'Transaction not found');
      if (t.status !== 'success') return fail(400, 'Transaction has not been paid');
      const refunded = refunds.filter((r) => r.transaction === t.reference).reduce((sum, r) => sum + r.amount, 0);
      const amount = body['amount'] === undefined ? t.amount - refunded : Number(body['amount']);
      if (amount < 1 || refunded + amount > t.amount) return fail(400, 'Refund amount cannot be more than the unrefunded amount');
      const refund: Refund = { id: ids++, transaction: t.reference, amount, merchant_note: (body['merchant_note'] as string | undefined) ?? null, status: 'pending' };
      refunds.push(refund);
      return ok(refund, 'Refund has been queued for processing');
    }
    return fail(404, `no route ${method} ${url.pathname}`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    let raw = '';
    for await (const chunk of req) raw += String(chunk);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${FAKE_PAYSTACK_KEY}`) return send(401, { status: false, message: 'Invalid key' });
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    const result = route(req.method ?? 'GET', new URL(req.url ?? '/', 'http://localhost'), body);
    send(result.status, result.body);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: false, message: String(err) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const settle = (reference: string, status: 'success' | 'failed'): PaystackEvent => {
    const t = transactions.get(reference)!;
    t.status = status;
    t.gateway_response = status === 'success' ? 'Approved' : 'Declined';
    return { event: status === 'success' ? 'charge.success' : 'charge.failed', data: structuredClone(t) as unknown as Record<string, unknown> };
  };

  return {
    url: `http://127.0.0.1:${port}`,
    transactions,
    refunds,
    pay: (reference) => settle(reference, 'success'),
    fail: (reference) => settle(reference, 'failed'),
    sign(event, secret = FAKE_PAYSTACK_KEY) {
      const body = JSON.stringify(event);
      return { body, signature: createHmac('sha512', secret).update(body).digest('hex') };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export async function deliverPaystackWebhook(api: string, body: string, signature: string | null) {
  const res = await fetch(`${api}/webhooks/paystack`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signature === null ? {} : { 'x-paystack-signature': signature }) },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
