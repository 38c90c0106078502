// The named scenarios of the on-sale load test: each a full set of options, any of which the
// command line overrides. Sizes are for the project's 2-core machine (load generator, nodes,
// PostgreSQL and Redis on the same cores); on a bigger one, scale them up from the command line.

export type TicketKind = 'general' | 'seated';

export interface Options {
  scenario: string;
  /** Results are written as load-tests/results/<name>.{json,md,svg}. */
  name: string;
  /** Server nodes to start (child processes on loopback); ignored with `target`. */
  nodes: number;
  /** Already running nodes to aim at instead (then DATABASE_URL must name their database). */
  target: string[];
  events: number;
  /** Capacity of each event's one ticket type (seats, for a seated event). */
  capacity: number;
  /** Event i sells kinds[i % kinds.length]. */
  kinds: TicketKind[];
  buyers: number;
  watchers: number;
  /** All buyers arrive within this many seconds (open model: arrivals do not wait for answers). */
  rampSeconds: number;
  /** Shares of buyers who hold and then leave (the hold expires), cancel, or see their payment fail; the rest pay. */
  abandon: number;
  cancel: number;
  fail: number;
  /** A buyer thinks this long (uniform in [min, max] ms) between the hold and paying, cancelling or failing. */
  thinkMs: [number, number];
  holdTtlSeconds: number;
  sweepSeconds: number;
  /** Every purchase must have ended this long after the last hold's deadline (and the last buyer's step). */
  graceSeconds: number;
  /** `naive`: also run the same arrivals against the naive purchase path (load-tests/baselines/) and report the ratio. */
  baseline: 'none' | 'naive';
  buyerProcesses: number;
  watcherProcesses: number;
  /** Hard limit on the whole run; past it the run is stopped and exits non-zero. */
  timeoutSeconds: number;
  requestTimeoutMs: number;
  /** How long after a payment is accepted its confirmation may take before it counts as an error. */
  confirmTimeoutMs: number;
  /** Holds per node on a separate event before the ramp (then cancelled), so a cold start is not measured. */
  warmup: number;
  /** PostgreSQL connections per node. */
  poolPerNode: number;
  /** The arrival schedule, outcomes and seat picks are drawn from this seed: two runs meet the same crowd. */
  seed: number;
  /** How a payer learns the purchase is confirmed: their own Socket.IO connection (opened on arrival), or polling it. */
  confirmVia: 'socket' | 'poll';
  /** Buyers pass a waiting room first (needs the waiting-room API; see README). */
  waitingRoom: boolean;
  /** Extra environment for the nodes (a scenario's config knobs). */
  nodeEnv: Record<string, string>;
}

type ScenarioDefaults = Omit<Options, 'scenario' | 'name' | 'target' | 'seed'>;

const common: ScenarioDefaults = {
  nodes: 1,
  events: 1,
  capacity: 1000,
  kinds: ['general'],
  buyers: 1000,
  watchers: 100,
  rampSeconds: 5,
  abandon: 0.1,
  cancel: 0.05,
  fail: 0.05,
  thinkMs: [500, 3000],
  holdTtlSeconds: 15,
  sweepSeconds: 2,
  graceSeconds: 30,
  baseline: 'none',
  buyerProcesses: 1,
  watcherProcesses: 1,
  timeoutSeconds: 600,
  requestTimeoutMs: 30_000,
  confirmTimeoutMs: 30_000,
  warmup: 30,
  poolPerNode: 10,
  confirmVia: 'socket',
  waitingRoom: false,
  nodeEnv: {},
};

export const SCENARIOS: Record<string, { about: string; defaults: ScenarioDefaults }> = {
  smoke: {
    about: 'tiny and quick (CI): one node, a standing and a seated event, oversubscribed, holds expiring inside the run, a small naive baseline',
    defaults: {
      ...common,
      events: 2,
      capacity: 80,
      kinds: ['general', 'seated'],
      buyers: 200,
      watchers: 50,
      rampSeconds: 3,
      thinkMs: [200, 1000],
      // Long enough that payers (who pay within a couple of seconds) never race their expiry.
      holdTtlSeconds: 8,
      sweepSeconds: 1,
      graceSeconds: 20,
      baseline: 'naive',
      timeoutSeconds: 110,
      confirmTimeoutMs: 15_000,
    },
  },
  spike: {
    about: 'the full on-sale spike: two nodes, four events (standing and seated), 5,000 buyers within 5 s, 1,000 watchers',
    defaults: {
      ...common,
      nodes: 2,
      events: 4,
      capacity: 1000,
      kinds: ['general', 'seated'],
      buyers: 5000,
      watchers: 1000,
      rampSeconds: 5,
      thinkMs: [1000, 4000],
      holdTtlSeconds: 20,
      graceSeconds: 60,
      requestTimeoutMs: 60_000,
      confirmTimeoutMs: 60_000,
      buyerProcesses: 2,
    },
  },
  'hot-ga': {
    about: 'one hot standing event: the most holds per second, buyers paying only after the burst, with the naive baseline in the same run',
    defaults: {
      ...common,
      events: 1,
      capacity: 3000,
      buyers: 3000,
      watchers: 100,
      rampSeconds: 2,
      thinkMs: [6000, 9000],
      holdTtlSeconds: 20,
      baseline: 'naive',
      buyerProcesses: 2,
    },
  },
  watchers: {
    about: '5,000 watchers of one event on one node while holds arrive at ~1,000/s: broadcast lag, and no watcher left on a stale count',
    defaults: {
      ...common,
      events: 1,
      capacity: 5000,
      buyers: 5000,
      watchers: 5000,
      rampSeconds: 5,
      thinkMs: [1000, 4000],
      holdTtlSeconds: 20,
      buyerProcesses: 1,
      watcherProcesses: 2,
    },
  },
  'waiting-room': {
    about: 'a high-demand event behind the waiting room: arrivals at 10x the admission rate; hold p99 should stay flat (needs the waiting-room API)',
    defaults: {
      ...common,
      events: 1,
      capacity: 2000,
      buyers: 3000,
      watchers: 100,
      rampSeconds: 5,
      thinkMs: [500, 2000],
      holdTtlSeconds: 20,
      waitingRoom: true,
      // Arrivals 600/s against 60 admitted/s, in rounds of one second (the default): those admitted
      // together hold together, so a round's size is the burst the hold path sees.
      nodeEnv: { WAITING_ROOM_ADMIT_PER_SECOND: '60', RATE_LIMIT_WAITING_ROOM_PER_USER_PER_MINUTE: '10000000' },
    },
  },
};
