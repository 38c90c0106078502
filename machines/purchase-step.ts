// Pure stepping of the purchase actor for a durable host: start from input, or advance a persisted
// snapshot by one event, and get back the next persisted snapshot, the state, and the effects to
// run. Nothing here executes an effect or reads a clock.
import { initialTransition, transition, type SnapshotFrom } from 'xstate';
import {
  EFFECT_NAMES,
  purchaseMachine,
  type EffectName,
  type PurchaseContext,
  type PurchaseEffects,
  type PurchaseEvent,
  type PurchaseInput,
  type PurchaseState,
} from './purchase.ts';

export type Effect = { [K in EffectName]: { type: K; params: PurchaseEffects[K] } }[EffectName];

/** JSON-safe form of a snapshot, as stored in Postgres. */
export interface PersistedPurchase {
  value: PurchaseState;
  context: PurchaseContext;
  status: 'active' | 'done';
}

export interface PurchaseStep {
  from: PurchaseState | null;
  to: PurchaseState;
  /** Whether the event changed anything (an ignored event changes only the ignored counter). */
  changed: boolean;
  snapshot: PersistedPurchase;
  effects: Effect[];
}

type Snapshot = SnapshotFrom<typeof purchaseMachine>;

function persist(snapshot: Snapshot): PersistedPurchase {
  return {
    value: snapshot.value,
    context: structuredClone(snapshot.context),
    status: snapshot.status === 'done' ? 'done' : 'active',
  };
}

function effectsOf(actions: readonly { type: string; params?: unknown }[]): Effect[] {
  return actions.filter((a) => (EFFECT_NAMES as readonly string[]).includes(a.type)).map((a) => ({ type: a.type, params: a.params }) as Effect);
}

export function restore(persisted: PersistedPurchase): Snapshot {
  return purchaseMachine.resolveState({ value: persisted.value, context: persisted.context });
}

export function startPurchase(input: PurchaseInput): PurchaseStep {
  const [snapshot, actions] = initialTransition(purchaseMachine, input);
  const persisted = persist(snapshot);
  return { from: null, to: persisted.value, changed: true, snapshot: persisted, effects: effectsOf(actions) };
}

export function advancePurchase(current: PersistedPurchase, event: PurchaseEvent): PurchaseStep {
  const [snapshot, actions] = transition(purchaseMachine, restore(current), event);
  const next = persist(snapshot);
  const changed = next.value !== current.value || effectsOf(actions).length > 0 || JSON.stringify(next.context) !== JSON.stringify(current.context);
  return { from: current.value, to: next.value, changed, snapshot: next, effects: effectsOf(actions) };
}

/** Folds a transition log (the events, in order) from the input to the state it reaches. */
export function replayPurchase(input: PurchaseInput, events: readonly PurchaseEvent[]): PersistedPurchase {
  let step = startPurchase(input);
  for (const event of events) step = advancePurchase(step.snapshot, event);
  return step.snapshot;
}
