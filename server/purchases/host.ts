// The durable host of purchase actors. To deliver an event it locks the purchase row, computes the
// next state with the machine's pure transition, and in one transaction writes the new snapshot
// (version + 1), one append-only transition row and the requested effects into the outbox. After
// commit it runs those effects; each reports back with the next event, delivered the same way.
// Any node can do this for any purchase; events for one purchase apply one at a time (row lock).
import { context, defaultTextMapGetter, defaultTextMapSetter, ROOT_CONTEXT, trace, type Attributes, type Link } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  advancePurchase,
  startPurchase,
  type Effect,
  type PersistedPurchase,
  type PurchaseEvent,
  type PurchaseInput,
  type PurchaseState,
  type PurchaseStep,
} from '../../machines/index.ts';
import { AppError } from '../errors.ts';
import type { Logger } from '../observability/index.ts';
import { withPurchaseId } from '../observability/log-context.ts';
import { settleSpan } from '../observability/span-work.ts';
import { TELEMETRY } from '../observability/telemetry-names.ts';
import type { Sql, TransactionSql } from '../store/index.ts';
import type { TransitionNotice } from './purchase-metrics.ts';

/** Runs one effect; resolves with the event that reports its outcome, if any. Must be idempotent. */
export type EffectRunner = (purchaseId: string, step: string, effect: Effect) => Promise<PurchaseEvent | null>;

export interface StartRequest extends PurchaseInput {
  idempotencyKey: string;
  requestHash: string;
  /** The promo code the price used, if any (its use is given back if the purchase ends unpaid). */
  promoCodeId?: string | null;
  /** The price breakdown shown to the buyer, kept with the purchase. */
  pricing?: unknown;
}

/**
 * Checks run inside the transaction that creates a purchase, after the idempotency check: limits
 * that must hold under concurrency (per customer, promo-code uses) take their locks here.
 */
export type StartGuard = (tx: TransactionSql) => Promise<void>;

/** Effects a state asks for on entry, by the state: worth running only while the purchase is in it. */
const ENTRY_EFFECTS: Readonly<Record<string, PurchaseState>> = { placeHold: 'reserving', startPayment: 'held', issueTickets: 'confirming' };

/** Where a purchase ends without the buyer keeping tickets: a promo-code use comes back. */
const UNPAID_ENDS: ReadonlySet<PurchaseState> = new Set(['rejected', 'expired', 'cancelled', 'payment_failed', 'refunded']);

export interface PurchaseView {
  id: string;
  state: PurchaseState;
  version: number;
  holdDeadline: Date | null;
}

interface OutboxRow {
  id: string;
  step: string;
  effect: string;
  params: unknown;
}

const tracer = trace.getTracer('boxoffice.purchases');
const traceContextFormat = new W3CTraceContextPropagator();

/** The active span's context as a W3C traceparent (null when nothing is traced). */
function currentTraceParent(): string | null {
  const carrier: Record<string, string> = {};
  traceContextFormat.inject(context.active(), carrier, defaultTextMapSetter);
  return carrier['traceparent'] ?? null;
}

export interface HostDeps {
  sql: Sql;
  runEffect: EffectRunner;
  log: Logger;
  /** After a transition is committed (live buyer updates, metrics). Must not throw. */
  onTransition?: (notice: TransitionNotice) => void;
}

export function createPurchaseHost(deps: HostDeps) {
  const { sql } = deps;

  /**
   * A step's transition row and outbox rows, as statements not yet sent. Callers send them with
   * the step's other writes in one `Promise.all`: postgres.js writes them back to back on the
   * transaction's connection (one round trip) and PostgreSQL runs them in array order. Outbox rows
   * start at one attempt: this node runs them right after the commit.
   */
  function stepWrites(tx: TransactionSql, purchaseId: string, seq: number, step: PurchaseStep, eventType: string, payload: unknown) {
    const traceId = trace.getActiveSpan()?.spanContext().traceId ?? null;
    return [
      tx`
        insert into purchase_transitions (purchase_id, seq, from_state, to_state, event_type, payload, trace_id)
        values (${purchaseId}, ${seq}, ${step.from}, ${step.to}, ${eventType}, ${tx.json(payload as never)}, ${traceId})`,
      ...step.effects.map(
        (effect, index) => tx<OutboxRow[]>`
          insert into purchase_outbox (purchase_id, step, effect, params, attempts)
          values (${purchaseId}, ${`${seq}:${index}`}, ${effect.type}, ${tx.json(effect.params as never)}, 1)
          on conflict (purchase_id, step) do nothing
          returning id::text, step, effect, params`,
      ),
    ];
  }

  /** The outbox rows inserted by `stepWrites` (a conflict inserts none), from its results. */
  const insertedOutbox = (results: readonly unknown[]): OutboxRow[] => (results.slice(1) as OutboxRow[][]).flatMap((rows) => rows.slice(0, 1));

  function traced<T>(name: string, attributes: Attributes, work: () => Promise<T>, parent = context.active(), links: Link[] = []): Promise<T> {
    const purchaseId = attributes[TELEMETRY.purchaseId];
    const scope = typeof purchaseId === 'string' ? withPurchaseId(parent, purchaseId) : parent;
    return tracer.startActiveSpan(name, { attributes, links }, scope, (span) => settleSpan(span, work));
  }

  /** One span per committed transition, timed from the start of its transaction to the commit. */
  function noteTransition(purchaseId: string, step: PurchaseStep, eventType: string, version: number, startTime: number): void {
    tracer
      .startSpan(TELEMETRY.transitionSpan, {
        startTime,
        attributes: {
          [TELEMETRY.purchaseId]: purchaseId,
          [TELEMETRY.transitionFrom]: step.from ?? '',
          [TELEMETRY.transitionTo]: step.to,
          [TELEMETRY.transitionEventType]: eventType,
          [TELEMETRY.transitionSeq]: version,
        },
      })
      .end();
  }

  /**
   * Runs `work` in a span of the purchase's own trace: whatever delivers an event (a webhook job,
   * a timer, another request) is linked, so each purchase reads as one trace from its first request.
   */
  async function inPurchaseTrace<T>(purchaseId: string, name: string, attributes: Attributes, work: () => Promise<T>): Promise<T> {
    const [row] = await sql<{ trace_context: string | null }[]>`select trace_context from purchases where id = ${purchaseId}`;
    const active = trace.getActiveSpan()?.spanContext();
    if (row?.trace_context) {
      const stored = traceContextFormat.extract(ROOT_CONTEXT, { traceparent: row.trace_context }, defaultTextMapGetter);
      const storedSpan = trace.getSpanContext(stored);
      if (storedSpan && storedSpan.traceId !== active?.traceId) {
        return traced(name, attributes, work, stored, active ? [{ context: active }] : []);
      }
    }
    return traced(name, attributes, work);
  }

  /**
   * Runs effects in order; every event they report is delivered in turn (breadth-first). An
   * effect that reports an event is marked done inside the transaction that applies the event;
   * the others are marked done together at the end. Resolves with the last state written.
   */
  async function drain(purchaseId: string, rows: OutboxRow[]): Promise<PurchaseView | null> {
    const queue = [...rows];
    const done: string[] = [];
    let last: PurchaseView | null = null;
    while (queue.length) {
      const row = queue.shift()!;
      const event = await runOutboxRow(purchaseId, row);
      if (event === undefined) continue;
      if (event === null) {
        done.push(row.id);
        continue;
      }
      const result = await apply(purchaseId, event, row.id);
      last = result.view;
      queue.push(...result.pending);
    }
    if (done.length) await sql`update purchase_outbox set done_at = now(), last_error = null where id in ${sql(done)}`;
    return last;
  }

  /** Runs one outbox row: its reported event (null: none), or undefined when it failed (left for the relay). */
  async function runOutboxRow(purchaseId: string, row: OutboxRow): Promise<PurchaseEvent | null | undefined> {
    try {
      return await deps.runEffect(purchaseId, `${purchaseId}:${row.step}`, { type: row.effect, params: row.params } as Effect);
    } catch (err) {
      deps.log.warn({ err, purchaseId, step: row.step, effect: row.effect }, 'purchase effect failed; the outbox relay retries it');
      await sql`update purchase_outbox set last_error = ${String((err as Error).message).slice(0, 500)} where id = ${row.id}`;
      return undefined;
    }
  }

  /**
   * Delivers one event in one transaction: lock the purchase, compute the step, then write the
   * snapshot, the transition, the outbox rows (and mark done the outbox row that reported the
   * event) as one pipelined batch.
   */
  async function apply(purchaseId: string, event: PurchaseEvent, reportedBy?: string): Promise<{ view: PurchaseView; changed: boolean; pending: OutboxRow[] }> {
    const startTime = performance.timeOrigin + performance.now();
    const markDone = (tx: TransactionSql) =>
      reportedBy ? tx`update purchase_outbox set done_at = now(), last_error = null where id = ${reportedBy}` : null;
    return sql.begin(async (tx) => {
        const [row] = await tx<{ snapshot: PersistedPurchase; version: number; promo_code_id: string | null; promo_returned: boolean }[]>`
          select snapshot, version, promo_code_id, promo_returned from purchases where id = ${purchaseId} for update`;
        if (!row) throw new AppError('not_found', 'purchase not found');
        const step = advancePurchase(row.snapshot, event);
        const moved = step.to !== step.from || step.effects.length > 0;
        const deadline = step.snapshot.context.hold ? new Date(step.snapshot.context.hold.deadline) : null;
        if (!moved) {
          // Ignored here: keep the count in the snapshot, write no transition.
          await Promise.all([tx`update purchases set snapshot = ${tx.json(step.snapshot as never)} where id = ${purchaseId}`, markDone(tx)]);
          return { view: { id: purchaseId, state: step.to, version: row.version, holdDeadline: deadline }, changed: false, pending: [] };
        }
        const version = row.version + 1;
        const returnPromo = Boolean(row.promo_code_id && !row.promo_returned && UNPAID_ENDS.has(step.to));
        const writes = stepWrites(tx, purchaseId, version, step, event.type, event);
        const results = await Promise.all([
          tx`
            update purchases set snapshot = ${tx.json(step.snapshot as never)}, state = ${step.to}, version = ${version},
              hold_deadline = ${deadline}, updated_at = now(), promo_returned = promo_returned or ${returnPromo}
            where id = ${purchaseId}`,
          ...writes,
          markDone(tx),
          returnPromo ? tx`update promo_codes set uses = uses - 1 where id = ${row.promo_code_id} and uses > 0` : null,
        ]);
        const pending = insertedOutbox(results.slice(1, 1 + writes.length));
        return { view: { id: purchaseId, state: step.to, version, holdDeadline: deadline }, changed: true, pending, step };
      }).then((result) => {
        if ('step' in result) {
          noteTransition(purchaseId, result.step, event.type, result.view.version, startTime);
          deps.onTransition?.({ purchaseId, step: result.step, event, version: result.view.version, holdDeadline: result.view.holdDeadline });
        }
        return result;
      });
  }

  async function view(purchaseId: string): Promise<PurchaseView> {
    const [row] = await sql<{ state: PurchaseState; version: number; hold_deadline: Date | null }[]>`
      select state, version, hold_deadline from purchases where id = ${purchaseId}`;
    if (!row) throw new AppError('not_found', 'purchase not found');
    return { id: purchaseId, state: row.state, version: row.version, holdDeadline: row.hold_deadline };
  }

  async function startOnce(request: StartRequest, guard?: StartGuard): Promise<PurchaseView & { existing: boolean }> {
    const input: PurchaseInput = {
      purchaseId: request.purchaseId,
      eventId: request.eventId,
      customerId: request.customerId,
      items: request.items,
      amountMinor: request.amountMinor,
      currency: request.currency,
    };
    const first = startPurchase(input);
    const attributes = { [TELEMETRY.purchaseId]: request.purchaseId, [TELEMETRY.transitionEventType]: 'purchase.created' };
    return traced(TELEMETRY.deliverSpan, attributes, async () => {
      const startTime = performance.timeOrigin + performance.now();
      const created = await sql.begin(async (tx) => {
        const [existing] = await tx<{ id: string; request_hash: string }[]>`
          select id, request_hash from purchases where customer_id = ${request.customerId} and idempotency_key = ${request.idempotencyKey}`;
        if (existing) {
          if (existing.request_hash !== request.requestHash) {
            throw new AppError('unprocessable', 'this Idempotency-Key was used with a different request');
          }
          return { id: existing.id, pending: [] as OutboxRow[], existing: true };
        }
        await guard?.(tx);
        const purchase = tx`
          insert into purchases (id, event_id, customer_id, state, snapshot, version, amount_minor, currency, idempotency_key, request_hash,
                                 promo_code_id, pricing, trace_context)
          values (${request.purchaseId}, ${request.eventId}, ${request.customerId}, ${first.to}, ${tx.json(first.snapshot as never)}, 1,
                  ${request.amountMinor}, ${request.currency}, ${request.idempotencyKey}, ${request.requestHash},
                  ${request.promoCodeId ?? null}, ${tx.json((request.pricing ?? {}) as never)}, ${currentTraceParent()})`;
        // Issued together with the purchase row: one round trip, run in order.
        const [, ...written] = await Promise.all([purchase, ...stepWrites(tx, request.purchaseId, 1, first, 'purchase.created', { items: request.items })]);
        const pending = insertedOutbox(written);
        return { id: request.purchaseId, pending, existing: false };
      });
      if (!created.existing) {
        noteTransition(request.purchaseId, first, 'purchase.created', 1, startTime);
        deps.onTransition?.({ purchaseId: request.purchaseId, step: first, event: null, version: 1, holdDeadline: null });
      }
      // The hold and the payment start run here, inside the request's trace. A retried request
      // (same key) carries on what its first try left undone: the node that took it may be gone.
      const pending = created.existing ? await unfinishedEntryEffects(created.id) : created.pending;
      const last = await drain(created.id, pending);
      return { ...(last ?? (await view(created.id))), existing: created.existing };
    });
  }

  /**
   * The effects the purchase's current state asked for on entry that have not run to the end (a
   * hold not placed, a payment not started): what a retried request resumes at once, instead of
   * leaving it for the relay. Each is idempotent, so the first try still running changes nothing.
   */
  async function unfinishedEntryEffects(purchaseId: string): Promise<OutboxRow[]> {
    const rows = await sql<(OutboxRow & { state: PurchaseState })[]>`
      select o.id::text, o.step, o.effect, o.params, p.state
      from purchase_outbox o join purchases p on p.id = o.purchase_id
      where o.purchase_id = ${purchaseId} and o.done_at is null
      order by o.id`;
    return rows.filter((row) => ENTRY_EFFECTS[row.effect] === row.state).map(({ id, step, effect, params }) => ({ id, step, effect, params }));
  }

  /**
   * Is this effect (run by the relay) one a state asks for on entry, while the purchase has left
   * that state? Then its first run reported and the purchase moved on (it may still be in flight
   * under load): running it again could place a hold nobody will release, say.
   */
  async function outgrown(row: OutboxRow & { purchase_id: string }): Promise<boolean> {
    const state = ENTRY_EFFECTS[row.effect];
    if (!state) return false;
    const [current] = await sql<{ state: PurchaseState }[]>`select state from purchases where id = ${row.purchase_id}`;
    return current !== undefined && current.state !== state;
  }

  return {
    /**
     * Creates the purchase and runs it until it waits for the outside world (a hold placed or
     * refused, a payment started). Same idempotency key and body: the existing purchase; same key,
     * other body: 422. `guard` runs inside the creating transaction (limits under concurrency).
     */
    async start(request: StartRequest, guard?: StartGuard): Promise<PurchaseView & { existing: boolean }> {
      try {
        return await startOnce(request, guard);
      } catch (err) {
        // Two requests with one new key raced: the loser answers with the winner's purchase.
        if ((err as { constraint_name?: string }).constraint_name === 'purchases_idempotency_key') return startOnce(request, guard);
        throw err;
      }
    },

    /** Delivers one event (from a webhook, a timer, the buyer) and runs what follows from it. */
    async deliver(purchaseId: string, event: PurchaseEvent): Promise<PurchaseView & { changed: boolean }> {
      const attributes = { [TELEMETRY.purchaseId]: purchaseId, [TELEMETRY.transitionEventType]: event.type };
      return inPurchaseTrace(purchaseId, TELEMETRY.deliverSpan, attributes, async () => {
        const result = await apply(purchaseId, event);
        const last = await drain(purchaseId, result.pending);
        return { ...(last ?? result.view), changed: result.changed };
      });
    },

    view,

    /**
     * A retried request for a purchase that exists (same Idempotency-Key): runs what its first try
     * left undone — the effects its state asked for on entry (a hold not placed, a payment not
     * started), because that try failed halfway (the database went away under it) or its node died
     * — instead of leaving them for the relay. Each is idempotent: a first try still running
     * changes nothing. Resolves with the purchase as it is then.
     */
    async resume(purchaseId: string): Promise<PurchaseView> {
      const pending = await unfinishedEntryEffects(purchaseId);
      if (pending.length === 0) return view(purchaseId);
      const last = await inPurchaseTrace(purchaseId, TELEMETRY.relaySpan, { [TELEMETRY.purchaseId]: purchaseId }, () => drain(purchaseId, pending));
      return last ?? view(purchaseId);
    },

    /** The outbox relay: re-runs effects that a crash (or a failure) left undone. */
    async relay(olderThanMs: number, limit = 100): Promise<number> {
      const rows = await sql<(OutboxRow & { purchase_id: string })[]>`
        select id::text, purchase_id, step, effect, params from purchase_outbox
        where done_at is null and created_at < now() - make_interval(secs => ${olderThanMs / 1000})
        order by id limit ${limit}`;
      if (rows.length) await sql`update purchase_outbox set attempts = attempts + 1 where id in ${sql(rows.map((r) => r.id))}`;
      for (const row of rows) {
        if (await outgrown(row)) {
          await sql`update purchase_outbox set done_at = now() where id = ${row.id}`;
          continue;
        }
        await inPurchaseTrace(row.purchase_id, TELEMETRY.relaySpan, { [TELEMETRY.purchaseId]: row.purchase_id }, () => drain(row.purchase_id, [row]));
      }
      return rows.length;
    },
  };
}

export type PurchaseHost = ReturnType<typeof createPurchaseHost>;
