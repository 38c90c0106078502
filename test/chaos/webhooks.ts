// Stripe webhook deliveries in a chaos scenario, as Stripe sends them while a sale runs: each event
// signed over its exact body and POSTed to one of the nodes; some sent again (the same event id and
// body, with the same signature or signed anew, to another node, at the same moment or later); and
// forgeries among them. Every request goes through one pool with a bound on requests in flight,
// is tallied as a 'webhook' operation, and is kept with its answer for the checks.
import { randomBytes } from 'node:crypto';
import type Stripe from 'stripe';
import type { FakeStripe } from '../helpers/fake-stripe.ts';
import { send, type Tally } from './crowd.ts';
import type { ChaosNode } from './nodes.ts';

export type DeliveryKind = 'genuine' | 'duplicate' | 'forged';

/** How a forgery is made: signed with another secret, a genuine signature over another body, too old, unsigned. */
export const FORGERIES = ['wrong_secret', 'another_body', 'expired', 'no_signature'] as const;
export type Forgery = (typeof FORGERIES)[number];

export interface Delivery {
  kind: DeliveryKind;
  eventId: string;
  eventType: string;
  /** The node that answered (the first one tried when none did). */
  node: number;
  forgery?: Forgery;
  /** A duplicate: sent alongside the first delivery or after it, with its signature or signed anew. */
  timing?: 'concurrent' | 'later';
  resigned?: boolean;
  /** The node the event's first delivery went to (duplicates). */
  firstNode?: number;
  status: number;
  /** The answer's `duplicate` flag (null: no such answer). */
  duplicate: boolean | null;
  /** Epoch ms: handed to the pool, sent (a slot was free), answered. */
  queuedAt: number;
  sentAt: number;
  answeredAt: number;
}

export interface DuplicatePlan {
  timing: 'concurrent' | 'later';
  resigned: boolean;
  /** For a later one: how long after the first delivery's answer. */
  delayMs: number;
}

interface Sent {
  event: Stripe.Event;
  body: string;
  signature: string;
  node: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class WebhookBurst {
  readonly deliveries: Delivery[] = [];
  /** Genuine events by id, in the order they were first sent. */
  readonly sent = new Map<string, Sent>();
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly options: {
      stripe: FakeStripe;
      nodes: readonly ChaosNode[];
      tally: Tally;
      /** Requests in flight at most. */
      concurrency: number;
      random: () => number;
    },
  ) {}

  private pickNode(): number {
    return Math.floor(this.options.random() * this.options.nodes.length);
  }

  /** Another node than `node`. */
  private otherNode(node: number): number {
    const n = this.options.nodes.length;
    return (node + 1 + Math.floor(this.options.random() * (n - 1))) % n;
  }

  private async acquire(): Promise<void> {
    if (this.active < this.options.concurrency) {
      this.active++;
      return;
    }
    // The releasing delivery hands its slot over (active stays the same).
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work)).catch(() => {});
    return work;
  }

  private post(meta: Omit<Delivery, 'status' | 'duplicate' | 'node' | 'queuedAt' | 'sentAt' | 'answeredAt'>, body: string, signature: string | null, node: number): Promise<Delivery> {
    const queuedAt = Date.now();
    return this.track(
      (async () => {
        await this.acquire();
        const sentAt = Date.now();
        try {
          const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
          if (signature !== null) headers['stripe-signature'] = signature;
          const answer = await send(this.options.tally, 'webhook', this.options.nodes, node, '/webhooks/stripe', {
            raw: { body, headers },
            deadline: Date.now() + 15_000,
          });
          const flag = answer.body?.['duplicate'];
          const delivery: Delivery = {
            ...meta,
            node: answer.node >= 0 ? answer.node : node,
            status: answer.status,
            duplicate: typeof flag === 'boolean' ? flag : null,
            queuedAt,
            sentAt,
            answeredAt: Date.now(),
          };
          this.deliveries.push(delivery);
          return delivery;
        } finally {
          this.release();
        }
      })(),
    );
  }

  /** The same body signed again, at another timestamp inside Stripe's tolerance (so the header differs). */
  private resign(event: Stripe.Event, body: string): string {
    const again = this.options.stripe.sign(event, { timestamp: Math.floor(Date.now() / 1000) - 1 - Math.floor(this.options.random() * 60) });
    if (again.body !== body) throw new Error(`event ${event.id} signed again has another body`);
    return again.signature;
  }

  private duplicate(sent: Sent, plan: Omit<DuplicatePlan, 'delayMs'>): Promise<Delivery> {
    const signature = plan.resigned ? this.resign(sent.event, sent.body) : sent.signature;
    const meta = { kind: 'duplicate' as const, eventId: sent.event.id, eventType: sent.event.type, ...plan, firstNode: sent.node };
    return this.post(meta, sent.body, signature, this.otherNode(sent.node));
  }

  /** Stripe sends `event` to a node; with `again`, once more to another node (at once, or later). */
  genuine(event: Stripe.Event, again: DuplicatePlan | null = null): Promise<Delivery> {
    const { body, signature } = this.options.stripe.sign(event);
    const node = this.pickNode();
    const sent: Sent = { event, body, signature, node };
    this.sent.set(event.id, sent);
    const first = this.post({ kind: 'genuine', eventId: event.id, eventType: event.type }, body, signature, node);
    if (again?.timing === 'concurrent') void this.duplicate(sent, again);
    if (again?.timing === 'later') {
      void this.track(
        first.then(async () => {
          await sleep(again.delayMs);
          await this.duplicate(sent, again);
        }),
      );
    }
    return first;
  }

  /** Another delivery of an event sent before (a retry by the provider), to another node. */
  again(eventId: string, resigned: boolean): Promise<Delivery> {
    const sent = this.sent.get(eventId);
    if (!sent) throw new Error(`event ${eventId} was never sent`);
    return this.duplicate(sent, { timing: 'later', resigned });
  }

  /** A forged delivery of `event` (never genuinely sent): rejected, it must change nothing. */
  forged(event: Stripe.Event, forgery: Forgery): Promise<Delivery> {
    const { stripe, random } = this.options;
    const body = JSON.stringify(event);
    let signature: string | null;
    switch (forgery) {
      case 'wrong_secret':
        signature = stripe.sign(event, { secret: `whsec_${randomBytes(24).toString('hex')}` }).signature;
        break;
      case 'another_body': {
        // A real signature, lifted from a genuine delivery (or made for a harmless body).
        const genuine = [...this.sent.values()];
        signature = genuine.length ? genuine[Math.floor(random() * genuine.length)]!.signature : stripe.sign(stripe.event('customer.created', { id: 'cus_x', object: 'customer' })).signature;
        break;
      }
      case 'expired':
        signature = stripe.sign(event, { timestamp: Math.floor(Date.now() / 1000) - 301 - Math.floor(random() * 3_000) }).signature;
        break;
      case 'no_signature':
        signature = null;
        break;
    }
    return this.post({ kind: 'forged', eventId: event.id, eventType: event.type, forgery }, body, signature, this.pickNode());
  }

  /** Waits for every delivery, including later duplicates still to be sent. */
  async drain(): Promise<void> {
    for (let round = 0; this.inFlight.size > 0 && round < 1_000; round++) await Promise.allSettled([...this.inFlight]);
  }
}
