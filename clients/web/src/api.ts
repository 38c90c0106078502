// The boxoffice API from the browser: JSON in and out, the access token kept in localStorage, and
// errors as ApiError carrying the server's stable error body.
export const API = '/api/v1';
const TOKEN_KEY = 'boxoffice.token';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown,
  ) {
    super(message);
  }
}

export const token = {
  get: (): string | null => localStorage.getItem(TOKEN_KEY),
  set: (value: string) => localStorage.setItem(TOKEN_KEY, value),
  clear: () => localStorage.removeItem(TOKEN_KEY),
};

export async function api<T>(path: string, options: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<T> {
  const headers: Record<string, string> = { ...options.headers };
  const bearer = token.get();
  if (bearer) headers['authorization'] = `Bearer ${bearer}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${API}${path}`, {
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await res.text();
  const body = (text ? JSON.parse(text) : null) as { error?: { code: string; message: string; details?: unknown } } | null;
  if (!res.ok) {
    if (res.status === 401) token.clear();
    throw new ApiError(res.status, body?.error?.code ?? 'error', body?.error?.message ?? res.statusText, body?.error?.details);
  }
  return body as T;
}

/**
 * Runs a request again while the server answers 503 (a store away for a moment, a purchase not
 * ready yet) or the connection fails (a node gone; the balancer sends the next try elsewhere),
 * a few times and after the pause the server asks for. The caller keeps one Idempotency-Key for
 * every try, so a purchase is made once and carries on where the last try stopped.
 */
export async function retrying<T>(request: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request();
    } catch (err) {
      const unavailable = (err instanceof ApiError && err.status === 503) || err instanceof TypeError;
      if (!unavailable || attempt >= attempts) throw err;
      const asked = err instanceof ApiError ? (err.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds : undefined;
      const seconds = typeof asked === 'number' && asked > 0 ? Math.min(asked, 5) : attempt;
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    }
  }
}

export interface TicketType {
  id: string;
  name: string;
  kind: 'general' | 'seated';
  priceMinor: number;
  currency: string;
  perOrderMax: number;
  available: number;
  onSaleNow: boolean;
}

export interface EventDetail {
  id: string;
  slug: string;
  title: string;
  description: string;
  venueName: string | null;
  startsAt: string;
  /** Holds need the waiting room's admission token (see waiting-room.ts). */
  waitingRoomInForce: boolean;
  ticketTypes: TicketType[];
}

export interface Purchase {
  id: string;
  eventId: string;
  state: string;
  amountMinor: number;
  currency: string;
  holdExpiresAt: string | null;
  payment: {
    provider: string;
    paymentId: string;
    status: string;
    clientSecret: string | null;
    redirectUrl: string | null;
    publishableKey: string | null;
  } | null;
  tickets?: { id: string; code: string; seatId: string | null; status: string }[];
}

export const money = (minor: number, currency: string) => new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(minor / 100);
