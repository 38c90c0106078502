// A bounded spike of buyers against several nodes, as clients behind a load balancer see it: each
// request goes to a node; a connection that fails or a 503 is tried again (after a short pause, on
// the next node, with the same Idempotency-Key) until the buyer's deadline. Every operation is
// tallied: attempted, succeeded, failed cleanly (a 4xx with the stable error body, or still
// refused with 503 at the deadline), or failed badly (any other 5xx, a body that is not the error
// shape, a request that never got an answer) — the last must stay at zero.
import { randomUUID } from 'node:crypto';
import type { ChaosNode } from './nodes.ts';

export type OperationKind = 'hold' | 'pay' | 'cancel' | 'webhook' | 'watch' | 'scan';

export interface OperationTally {
  attempted: number;
  succeeded: number;
  failedCleanly: number;
  failedBadly: number;
  /** Tries answered 503 service_unavailable (retryable). */
  unavailableTries: number;
  /** Tries whose connection was refused or reset (the node was gone). */
  connectionErrors: number;
}

export class Tally {
  readonly operations = new Map<OperationKind, OperationTally>();
  /** What failed badly, for the report (first 20). */
  readonly badly: string[] = [];

  of(kind: OperationKind): OperationTally {
    let tally = this.operations.get(kind);
    if (!tally) {
      tally = { attempted: 0, succeeded: 0, failedCleanly: 0, failedBadly: 0, unavailableTries: 0, connectionErrors: 0 };
      this.operations.set(kind, tally);
    }
    return tally;
  }

  bad(kind: OperationKind, what: string): void {
    this.of(kind).failedBadly++;
    if (this.badly.length < 20) this.badly.push(`${kind}: ${what}`);
  }

  totals(): OperationTally {
    const sum: OperationTally = { attempted: 0, succeeded: 0, failedCleanly: 0, failedBadly: 0, unavailableTries: 0, connectionErrors: 0 };
    for (const t of this.operations.values()) for (const key of Object.keys(sum) as (keyof OperationTally)[]) sum[key] += t[key];
    return sum;
  }
}

export interface Answer {
  status: number;
  body: Record<string, unknown> | null;
  /** Index of the node that answered (-1: none did). */
  node: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const hasErrorShape = (body: Record<string, unknown> | null): boolean => {
  const error = body?.['error'] as { code?: unknown; message?: unknown } | undefined;
  return typeof error?.code === 'string' && typeof error.message === 'string';
};

export interface SendOptions {
  method?: string;
  token?: string;
  body?: unknown;
  /** Raw body and headers (webhooks), sent as they are. */
  raw?: { body: string; headers: Record<string, string> };
  headers?: Record<string, string>;
  /** Give up (failed cleanly) when only 503s and refused connections came back by then, epoch ms. */
  deadline: number;
  /** A status that ends the operation as success although it is not 2xx (e.g. 409 "already paid" on a retry). */
  alsoSuccess?: (answer: Answer, retried: boolean) => boolean;
}

/**
 * One operation: tries `path` on the nodes in turn from `first`, until an answer that is not a 503
 * (or the deadline). Returns the final answer (status 0: none came).
 */
export async function send(tally: Tally, kind: OperationKind, nodes: readonly ChaosNode[], first: number, path: string, options: SendOptions): Promise<Answer> {
  const t = tally.of(kind);
  t.attempted++;
  let retried = false;
  for (let attempt = 0; ; attempt++) {
    const index = (first + attempt) % nodes.length;
    const node = nodes[index]!;
    const headers: Record<string, string> = { ...options.headers, ...options.raw?.headers };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.token) headers['authorization'] = `Bearer ${options.token}`;
    let answer: Answer | null = null;
    try {
      const res = await fetch(`${node.api}${path}`, {
        method: options.method ?? 'POST',
        headers,
        body: options.raw?.body ?? (options.body === undefined ? null : JSON.stringify(options.body)),
        signal: AbortSignal.timeout(20_000),
      });
      const text = await res.text();
      let body: Record<string, unknown> | null = null;
      try {
        body = text ? (JSON.parse(text) as Record<string, unknown>) : null;
      } catch {
        tally.bad(kind, `${res.status} from ${node.name} ${path} with a body that is not JSON: ${text.slice(0, 80)}`);
        return { status: res.status, body: null, node: index };
      }
      answer = { status: res.status, body, node: index };
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      if (cause === 'TimeoutError') {
        tally.bad(kind, `no answer from ${node.name} ${path} within 20 s`);
        return { status: 0, body: null, node: -1 };
      }
      // Refused or reset: the node is gone (or going). A balancer would send the retry elsewhere.
      t.connectionErrors++;
    }
    if (answer) {
      if (answer.status < 300 || options.alsoSuccess?.(answer, retried)) {
        t.succeeded++;
        return answer;
      }
      if (!hasErrorShape(answer.body)) {
        tally.bad(kind, `${answer.status} from ${node.name} ${path} without the error body: ${JSON.stringify(answer.body).slice(0, 120)}`);
        return answer;
      }
      const code = (answer.body!['error'] as { code: string }).code;
      if (answer.status >= 500 && !(answer.status === 503 && code === 'service_unavailable')) {
        tally.bad(kind, `${answer.status} ${code} from ${node.name} ${path}: ${JSON.stringify(answer.body).slice(0, 160)}`);
        return answer;
      }
      if (answer.status !== 503) {
        t.failedCleanly++;
        return answer;
      }
      t.unavailableTries++;
    }
    retried = true;
    if (Date.now() > options.deadline) {
      t.failedCleanly++;
      return answer ?? { status: 0, body: null, node: -1 };
    }
    await sleep(Math.min(1_000, 100 * (attempt + 1)));
  }
}

export type Fate = 'pay' | 'abandon' | 'cancel';

export interface BuyerPlan {
  token: string;
  eventId: string;
  ticketTypeId: string;
  quantity: number;
  seatIds?: string[];
  fate: Fate;
  /** ms after the start of the spike. */
  arriveAt: number;
  /** The node this buyer's requests go to first. */
  node: number;
}

export interface HeldPurchase {
  purchaseId: string;
  /** The node that answered the hold. */
  node: number;
  paymentId: string;
  provider: string;
  plan: BuyerPlan;
}

export interface SpikeResult {
  held: HeldPurchase[];
  /** Purchase ids whose hold answer never came back (they may exist all the same). */
  unknown: number;
}

export interface SpikeOptions {
  nodes: readonly ChaosNode[];
  plans: readonly BuyerPlan[];
  tally: Tally;
  /** How a buyer pays (default: the sandbox's succeed button, through the API). */
  pay?: (purchase: HeldPurchase, deadline: number) => Promise<void>;
  /** Each buyer gives up retrying this long after arriving. */
  patienceMs?: number;
  thinkMs?: [number, number];
}

/** Runs every buyer (each arrives at its time); resolves when all are done. */
export async function runSpike(options: SpikeOptions): Promise<SpikeResult> {
  const { nodes, tally } = options;
  const patience = options.patienceMs ?? 30_000;
  const [thinkMin, thinkMax] = options.thinkMs ?? [200, 1_500];
  const held: HeldPurchase[] = [];
  let unknown = 0;
  const start = Date.now();
  const sandboxPay = async (p: HeldPurchase, deadline: number) => {
    await send(tally, 'pay', nodes, p.plan.node, `/sandbox/payments/${p.paymentId}/succeed`, {
      token: p.plan.token,
      body: {},
      deadline,
      // A retry after a lost answer finds the payment already succeeded.
      alsoSuccess: (a, retried) => retried && a.status === 409,
    });
  };
  const pay = options.pay ?? sandboxPay;

  await Promise.all(
    options.plans.map(async (plan) => {
      await sleep(Math.max(0, start + plan.arriveAt - Date.now()));
      const deadline = Date.now() + patience;
      const items = plan.seatIds ? [{ ticketTypeId: plan.ticketTypeId, seatIds: plan.seatIds }] : [{ ticketTypeId: plan.ticketTypeId, quantity: plan.quantity }];
      const answer = await send(tally, 'hold', nodes, plan.node, '/purchases', {
        token: plan.token,
        body: { eventId: plan.eventId, items },
        headers: { 'idempotency-key': randomUUID() },
        deadline,
      });
      if (answer.status === 0) unknown++;
      if (answer.status !== 201 && answer.status !== 200) return;
      const payment = answer.body!['payment'] as { paymentId: string; provider: string } | null;
      const purchase: HeldPurchase = { purchaseId: String(answer.body!['id']), node: answer.node, paymentId: payment?.paymentId ?? '', provider: payment?.provider ?? '', plan };
      held.push(purchase);
      await sleep(thinkMin + Math.random() * (thinkMax - thinkMin));
      if (plan.fate === 'pay') await pay(purchase, Date.now() + patience);
      else if (plan.fate === 'cancel') {
        await send(tally, 'cancel', nodes, plan.node, `/purchases/${purchase.purchaseId}/cancel`, {
          token: plan.token,
          body: {},
          deadline: Date.now() + patience,
        });
      }
    }),
  );
  return { held, unknown };
}
