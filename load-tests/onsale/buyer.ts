// One buyer, as the buyer's page would act: arrive, (pass the waiting room,) hold, think, then pay,
// cancel, fail the payment or walk away. A payer listens on their own Socket.IO connection — open
// before the sale starts, as a page waiting for the on-sale has it — for the purchase's `confirmed`
// update (polling the purchase if none comes). Every step is timed; what went wrong is recorded by
// kind, never thrown.
import { randomUUID } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import { errorReason, type Answer, type HttpClient } from './http-client.ts';
import { holdBody, type BuyerPlan, type Outcome } from './plan.ts';

export interface BuyerRecord {
  index: number;
  node: number;
  eventId: string;
  seatId: string | null;
  outcome: Outcome;
  /** When the buyer arrived, and when the waiting room let them through (null: no room). */
  arrivedAt: number;
  admittedAt: number | null;
  holdStart: number;
  holdEnd: number;
  /** `held`, a refusal (`sold_out`, `seat_taken` ...), or an error kind. */
  hold: string;
  purchaseId: string | null;
  /** The pay / cancel / fail request after thinking. */
  actStart: number | null;
  actEnd: number | null;
  actStatus: number | null;
  /** When the buyer learnt the purchase was confirmed, and how. */
  confirmedAt: number | null;
  confirmedVia: 'socket' | 'poll' | null;
  /** The last purchase state the buyer saw. */
  finalState: string | null;
  errors: string[];
}

/** Admission before the hold (the waiting room): extra request headers, or why there are none. */
export type AdmissionGate = (
  buyer: BuyerPlan,
  baseUrl: string,
  updates: PurchaseUpdates | null,
) => Promise<{ headers: Record<string, string> } | { error: string }>;

export interface BuyerContext {
  http: HttpClient;
  urls: readonly string[];
  /** Epoch ms at which the ramp starts. */
  t0: number;
  confirmTimeoutMs: number;
  /** The naive baseline has only the hold. */
  holdOnly: boolean;
  /** The buyer's own socket, opened before the ramp (payers, when confirmations come by socket). */
  socketOf: (index: number) => PurchaseUpdates | null;
  gate: AdmissionGate | null;
  /** Every step of every buyer ends before this (epoch ms). */
  deadline: number;
}

export const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
export const REFUSALS = new Set(['sold_out', 'seat_taken']);

/** What an answer means: `ok`, a refusal reason, or an error kind (`http_500`, `timeout` ...). */
function kindOf(answer: Answer, ok: number): string {
  if (answer.error) return answer.error;
  if (answer.status === ok) return 'ok';
  const reason = errorReason(answer.body);
  return answer.status === 409 && REFUSALS.has(reason) ? reason : `http_${answer.status}_${reason}`;
}

export type PurchaseUpdates = ReturnType<typeof purchaseUpdates>;

/** A waiting-room status pushed to one visitor (`queueStatus`), as far as the load test reads it. */
export interface QueueStatus {
  eventId?: string;
  state?: string;
  admissionToken?: string | null;
}

/**
 * The buyer's own socket: purchase updates for them, by purchase id, with when each arrived; and,
 * in a waiting room, their own status as the room pushes it.
 */
export function purchaseUpdates(url: string, token: string) {
  const seen = new Map<string, { state: string; at: number }>();
  const waiting = new Map<string, () => void>();
  const queue = new Map<string, QueueStatus>();
  const queueWaiters = new Map<string, () => void>();
  let connected = false;
  const socket: Socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token }, timeout: 10_000 });
  socket.on('purchase', (u: { purchaseId: string; state: string }) => {
    seen.set(u.purchaseId, { state: u.state, at: now() });
    waiting.get(u.purchaseId)?.();
  });
  const noteQueue = (status: QueueStatus | undefined) => {
    if (!status?.eventId) return;
    queue.set(status.eventId, status);
    queueWaiters.get(status.eventId)?.();
  };
  socket.on('queueStatus', noteQueue);
  const ready = new Promise<void>((resolve) => {
    socket.once('connect', () => {
      connected = true;
      resolve();
    });
    socket.once('connect_error', () => resolve());
  });
  const final = (purchaseId: string) => {
    const update = seen.get(purchaseId);
    return update && ['confirmed', 'refunding', 'refunded'].includes(update.state) ? update : null;
  };
  return {
    ready,
    isConnected: () => connected,
    /** The update that made the purchase final for the buyer (confirmed, or refunding), or null on timeout. */
    async settled(purchaseId: string, timeoutMs: number): Promise<{ state: string; at: number } | null> {
      if (!final(purchaseId)) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timeoutMs);
          waiting.set(purchaseId, () => {
            if (!final(purchaseId)) return;
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return final(purchaseId);
    },
    /**
     * Watches the visitor's place in the event's waiting room and resolves with the first status
     * that is not `waiting` (admitted, expired, open), or the last one seen after `timeoutMs`.
     */
    async queueOutcome(eventId: string, timeoutMs: number): Promise<QueueStatus | null> {
      const done = () => {
        const status = queue.get(eventId);
        return status && status.state !== 'waiting' ? status : null;
      };
      socket.emit('watchQueue', { eventId }, (status: QueueStatus & { error?: unknown }) => noteQueue(status.error ? undefined : { ...status, eventId }));
      if (!done()) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timeoutMs);
          queueWaiters.set(eventId, () => {
            if (!done()) return;
            clearTimeout(timer);
            resolve();
          });
        });
      }
      queueWaiters.delete(eventId);
      return queue.get(eventId) ?? null;
    },
    close: () => socket.disconnect(),
  };
}

export async function runBuyer(buyer: BuyerPlan, ctx: BuyerContext): Promise<BuyerRecord> {
  const node = buyer.index % ctx.urls.length;
  const base = ctx.urls[node]!;
  const api = `${base}/api/v1`;
  const record: BuyerRecord = {
    index: buyer.index,
    node,
    eventId: buyer.eventId,
    seatId: buyer.seatId,
    outcome: buyer.outcome,
    arrivedAt: 0,
    admittedAt: null,
    holdStart: 0,
    holdEnd: 0,
    hold: 'not_sent',
    purchaseId: null,
    actStart: null,
    actEnd: null,
    actStatus: null,
    confirmedAt: null,
    confirmedVia: null,
    finalState: null,
    errors: [],
  };
  await sleep(ctx.t0 + buyer.arrivalMs - Date.now());
  record.arrivedAt = now();
  const updates = ctx.socketOf(buyer.index);
  try {
    const headers: Record<string, string> = { 'idempotency-key': randomUUID() };
    if (ctx.gate) {
      const admitted = await ctx.gate(buyer, base, ctx.socketOf(buyer.index));
      if ('error' in admitted) {
        record.hold = `admission_${admitted.error}`;
        record.errors.push(record.hold);
        return record;
      }
      Object.assign(headers, admitted.headers);
      record.admittedAt = now();
    }
    record.holdStart = now();
    const held = await ctx.http.call('POST', `${api}/purchases`, { token: buyer.token, body: holdBody(buyer), headers });
    record.holdEnd = now();
    const holdKind = kindOf(held, 201);
    record.hold = holdKind === 'ok' ? 'held' : holdKind;
    if (holdKind !== 'ok') {
      if (!REFUSALS.has(holdKind)) record.errors.push(`hold:${holdKind}`);
      return record;
    }
    record.purchaseId = String(held.body?.['id']);
    record.finalState = String(held.body?.['state']);
    if (ctx.holdOnly || buyer.outcome === 'abandon') return record;

    await sleep(Math.min(buyer.thinkMs, ctx.deadline - Date.now()));
    const paymentId = (held.body?.['payment'] as { paymentId?: string } | null)?.paymentId;
    const step =
      buyer.outcome === 'cancel'
        ? { url: `${api}/purchases/${record.purchaseId}/cancel`, label: 'cancel' }
        : { url: `${api}/sandbox/payments/${paymentId}/${buyer.outcome === 'pay' ? 'succeed' : 'fail'}`, label: buyer.outcome };
    record.actStart = now();
    const acted = await ctx.http.call('POST', step.url, { token: buyer.token, body: '{}' });
    record.actEnd = now();
    record.actStatus = acted.status;
    const actKind = kindOf(acted, 200);
    if (actKind !== 'ok') {
      record.errors.push(`${step.label}:${actKind}`);
      return record;
    }
    if (buyer.outcome === 'cancel') record.finalState = String(acted.body?.['state']);
    if (buyer.outcome !== 'pay') return record;
    await confirm(record, ctx, api, buyer.token, updates);
    return record;
  } finally {
    updates?.close();
  }
}

/** Waits for the paid purchase to be confirmed: the buyer's socket first, then polling; bounded. */
async function confirm(record: BuyerRecord, ctx: BuyerContext, api: string, token: string, updates: PurchaseUpdates | null) {
  const id = record.purchaseId!;
  const until = Math.min(ctx.deadline, Date.now() + ctx.confirmTimeoutMs);
  const settle = (state: string, at: number, via: 'socket' | 'poll') => {
    record.confirmedAt = state === 'confirmed' ? at : null;
    record.confirmedVia = via;
    record.finalState = state;
    if (state !== 'confirmed') record.errors.push(`confirm:${state}`);
  };
  if (updates?.isConnected()) {
    const update = await updates.settled(id, Math.max(0, Math.min(until - Date.now(), ctx.confirmTimeoutMs / 2)));
    if (update) return settle(update.state, update.at, 'socket');
  } else if (updates) {
    record.errors.push('socket:connect_failed');
  }
  // No update came: ask, as a page would after a reconnect.
  while (Date.now() < until) {
    const answer = await ctx.http.call('GET', `${api}/purchases/${id}`, { token });
    const state = answer.status === 200 ? String(answer.body?.['state']) : null;
    if (state && ['confirmed', 'refunding', 'refunded'].includes(state)) return settle(state, now(), 'poll');
    await sleep(250);
  }
  record.errors.push('confirm:timeout');
}
