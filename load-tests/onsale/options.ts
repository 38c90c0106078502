// The command line of the on-sale load test: a scenario's defaults, then every option given
// overrides one. Bad values stop the run before anything starts, naming the option.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { SCENARIOS, type Options, type TicketKind } from './scenarios.ts';

export const USAGE = `npm run loadtest -- [--scenario smoke|spike|hot-ga|watchers|waiting-room] [options]

  --name NAME              results file name (default: the scenario's)
  --nodes N                server nodes to start on loopback (child processes)
  --target URL,URL         aim at running nodes instead (DATABASE_URL and REDIS_URL must name their stores)
  --events E --capacity C  E events, each with one ticket type of C tickets
  --kinds general,seated   event i sells kinds[i % n]
  --buyers B --ramp S      B buyers arriving within S seconds
  --watchers W             live watchers (Socket.IO), spread over the events and nodes
  --abandon X --cancel Y --fail Z   shares of buyers (the rest pay)
  --think MIN-MAX          ms a buyer takes between holding and paying
  --hold-ttl S --sweep S   the nodes' HOLD_TTL_SECONDS and SWEEP_INTERVAL_SECONDS
  --grace S                every purchase must have ended S seconds after the last hold's deadline
  --baseline naive|none    also run the naive purchase path with the same arrivals
  --confirm-via socket|poll   how payers learn of the confirmation (own socket, open before the sale; or polling)
  --buyer-procs N --watcher-procs N   load-generator child processes
  --timeout S              hard limit of the whole run
  --warmup N               holds per node on a warm-up event before the ramp (then cancelled)
  --request-timeout MS --confirm-timeout MS --pool N --seed N
  --env KEY=VALUE          extra environment for the nodes (repeatable)`;

const share = z.coerce.number().min(0).max(1);
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const kinds = z
  .string()
  .transform((s) => s.split(',').map((k) => (k.trim() === 'ga' ? 'general' : k.trim())))
  .pipe(z.array(z.enum(['general', 'seated'])).min(1));
const think = z
  .string()
  .regex(/^\d+(-\d+)?$/, 'MIN-MAX in ms')
  .transform((s) => {
    const [min, max] = s.split('-').map(Number);
    return [min!, max ?? min!] as [number, number];
  })
  .refine(([min, max]) => min <= max && max <= 600_000, 'MIN <= MAX <= 600000');
const urls = z
  .string()
  .transform((s) => s.split(',').map((u) => u.trim().replace(/\/+$/, '')))
  .pipe(z.array(z.url({ protocol: /^https?$/ })).min(1));

/** Command-line option -> [Options key, parser]. */
const FLAGS = {
  name: ['name', z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/i, 'letters, digits, . _ -')],
  nodes: ['nodes', int(1, 8)],
  target: ['target', urls],
  events: ['events', int(1, 50)],
  capacity: ['capacity', int(1, 100_000)],
  kinds: ['kinds', kinds],
  buyers: ['buyers', int(1, 50_000)],
  watchers: ['watchers', int(0, 20_000)],
  ramp: ['rampSeconds', z.coerce.number().min(0).max(300)],
  abandon: ['abandon', share],
  cancel: ['cancel', share],
  fail: ['fail', share],
  think: ['thinkMs', think],
  'hold-ttl': ['holdTtlSeconds', int(1, 600)],
  sweep: ['sweepSeconds', int(1, 60)],
  grace: ['graceSeconds', int(5, 600)],
  baseline: ['baseline', z.enum(['none', 'naive'])],
  'confirm-via': ['confirmVia', z.enum(['socket', 'poll'])],
  'buyer-procs': ['buyerProcesses', int(1, 8)],
  'watcher-procs': ['watcherProcesses', int(1, 8)],
  timeout: ['timeoutSeconds', int(10, 3600)],
  'request-timeout': ['requestTimeoutMs', int(100, 120_000)],
  'confirm-timeout': ['confirmTimeoutMs', int(100, 300_000)],
  pool: ['poolPerNode', int(1, 100)],
  warmup: ['warmup', int(0, 1000)],
  seed: ['seed', int(0, 2 ** 31 - 1)],
} as const satisfies Record<string, readonly [keyof Options, z.ZodType]>;

export class OptionsError extends Error {}

export function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      scenario: { type: 'string', default: 'smoke' },
      env: { type: 'string', multiple: true },
      help: { type: 'boolean' },
      ...Object.fromEntries(Object.keys(FLAGS).map((flag) => [flag, { type: 'string' as const }])),
    },
  });
  if (values.help) throw new OptionsError(USAGE);
  const scenario = String(values.scenario);
  const chosen = SCENARIOS[scenario];
  if (!chosen) throw new OptionsError(`unknown scenario "${scenario}"; one of: ${Object.keys(SCENARIOS).join(', ')}`);
  const options: Options = { ...chosen.defaults, scenario, name: scenario, target: [], seed: 20261123, nodeEnv: { ...chosen.defaults.nodeEnv } };
  const problems: string[] = [];
  for (const [flag, [key, schema]] of Object.entries(FLAGS)) {
    const raw = (values as Record<string, unknown>)[flag];
    if (raw === undefined) continue;
    const parsed = schema.safeParse(raw);
    if (parsed.success) Object.assign(options, { [key]: parsed.data });
    else problems.push(`--${flag}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  }
  for (const pair of values.env ?? []) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(pair);
    if (match) options.nodeEnv[match[1]!] = match[2]!;
    else problems.push(`--env ${pair}: KEY=VALUE`);
  }
  if (options.abandon + options.cancel + options.fail > 1) problems.push('--abandon + --cancel + --fail must not exceed 1');
  if (problems.length) throw new OptionsError(`bad options:\n  ${problems.join('\n  ')}\n\n${USAGE}`);
  return options;
}

export const kindOf = (options: Options, eventIndex: number): TicketKind => options.kinds[eventIndex % options.kinds.length]!;
