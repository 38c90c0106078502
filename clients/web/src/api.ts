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
