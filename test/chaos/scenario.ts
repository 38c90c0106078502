// The frame of a chaos scenario: its own PostgreSQL and Redis, three (or the given) server nodes
// over them, the on-sale seeded, and afterwards the nodes' logs kept beside the report (also when
// the run never reached it), the nodes stopped and the stores removed.
import { afterAll, beforeAll } from 'vitest';
import { startNodes, stopNodes, type ChaosNode } from './nodes.ts';
import { seedChaosSale, type ChaosSale } from './sale.ts';
import { startChaosStores, type ChaosStores } from './stores.ts';
import { writeNodeLogs } from './verdict.ts';

export interface ChaosScenario {
  stores: ChaosStores;
  nodes: ChaosNode[];
  sale: ChaosSale;
}

export interface ChaosScenarioOptions {
  sale: Parameters<typeof seedChaosSale>[1];
  /** PostgreSQL commits durably, as in production (for the scenarios that crash it). */
  durable?: boolean;
  /** Each node's extra environment (default: three nodes as they are). */
  nodeEnvs?: (stores: ChaosStores) => Promise<Record<string, string>[]>;
  /** Run after the nodes stopped, before the stores go (what `nodeEnvs` started). */
  cleanup?: () => Promise<void>;
}

/** Registers the scenario's hooks; its fields are there once `beforeAll` ran (inside `it`). */
export function chaosScenario(name: string, options: ChaosScenarioOptions): ChaosScenario {
  const scenario = { nodes: [] as ChaosNode[] } as ChaosScenario;
  beforeAll(async () => {
    scenario.stores = await startChaosStores(name, { durable: options.durable ?? false });
    const envs = options.nodeEnvs ? await options.nodeEnvs(scenario.stores) : [{}, {}, {}];
    [scenario.nodes, scenario.sale] = await Promise.all([startNodes(scenario.stores, envs), seedChaosSale(scenario.stores, options.sale)]);
  });
  afterAll(async () => {
    if (scenario.nodes.length) await writeNodeLogs(name, scenario.nodes);
    await stopNodes(scenario.nodes);
    await options.cleanup?.();
    await scenario.stores?.stop();
  });
  return scenario;
}
