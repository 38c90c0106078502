// npm run cluster -- --nodes N: N server nodes (server/main.ts, each with its queue workers) on
// consecutive loopback ports, sharing one PostgreSQL and one Redis — the local ones, as `npm start`
// brings up, when DATABASE_URL / REDIS_URL are unset. Migrates, seeds and builds once; forwards
// Ctrl-C / SIGTERM to every node, waits for them, then stops the local stack.
//
// A node that dies unexpectedly is restarted (at most MAX_RESTARTS times each), as an orchestrator
// would: the point of a cluster is that losing a node is survivable (the others keep serving, its
// sockets reconnect elsewhere, its overdue holds are swept). A node that dies before it was ever
// ready, or keeps dying, points at a real fault: then everything stops with exit code 1.
import { ConfigError, loadConfig } from '../config.ts';
import { buildWebClient } from './build-web.ts';
import { parseClusterArgs, UsageError, type ClusterArgs } from './cluster-args.ts';
import { portIsFree, superviseNode, type NodeSpec, type SupervisedNode } from './cluster-node.ts';
import { cliLog, redactUrl, redisLine, resolveServiceUrls } from './local-env.ts';
import { migrateAndSeed } from './prepare-database.ts';

const MAX_RESTARTS = 3;
const RESTART_DELAY_MS = 1_000;
/** Generous: N nodes compile and connect at once, on a machine that may have two cores. */
const READY_TIMEOUT_MS = 120_000;
/** Beyond a node's own shutdown bound (SHUTDOWN_TIMEOUT_MS), before it is SIGKILLed. */
const STOP_SLACK_MS = 5_000;

let args: ClusterArgs;
try {
  args = parseClusterArgs(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(2);
}

const { env, stop: stopStack } = await resolveServiceUrls({ postgres: true, redis: true });
const host = env['HOST'] || '127.0.0.1';
const probeHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
const specs: NodeSpec[] = Array.from({ length: args.nodes }, (_, i) => {
  const port = args.basePort + i;
  return { number: i + 1, port, url: `http://${probeHost.includes(':') ? `[${probeHost}]` : probeHost}:${port}`, env: { ...env, HOST: host, PORT: String(port) } };
});

let graceMs = 0;
try {
  // Every node's configuration is checked here, once, rather than by N processes failing alike.
  const configs = specs.map((spec) => loadConfig(spec.env));
  graceMs = configs[0]!.http.shutdownTimeoutMs + STOP_SLACK_MS;
  const taken: number[] = [];
  for (const spec of specs) if (!(await portIsFree(host, spec.port))) taken.push(spec.port);
  if (taken.length) {
    process.stderr.write(`port${taken.length > 1 ? 's' : ''} ${taken.join(', ')} on ${host} already in use; choose another base with --port\n`);
    await stopStack();
    process.exit(1);
  }
  await migrateAndSeed(configs[0]!.postgres.url, 'boxoffice-cluster');
  if (args.build) {
    await buildWebClient();
    cliLog.info('web client built');
  }
} catch (err) {
  process.stderr.write(`${err instanceof ConfigError ? err.message : String((err as Error).stack ?? err)}\n`);
  await stopStack();
  process.exit(1);
}

const nodes: SupervisedNode[] = [];
let finishing: Promise<never> | null = null;

/** Stops every node (bounded), then the local stack, then exits: 0 only if asked to and every node exited 0. */
function finish(reason: string, signal: NodeJS.Signals, code: 0 | 1): Promise<never> {
  finishing ??= (async () => {
    cliLog.info({ reason, nodes: nodes.length }, 'stopping the cluster');
    const codes = await Promise.all(nodes.map((node) => node.stop(signal, graceMs)));
    await stopStack();
    const exitCode = code === 0 && codes.every((c) => c === 0) ? 0 : 1;
    cliLog.info({ codes, exitCode }, 'cluster stopped');
    process.exit(exitCode);
  })();
  return finishing;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (finishing) cliLog.warn({ signal }, 'already stopping; the nodes are draining');
    void finish(signal, signal, 0);
  });
}

for (const spec of specs) {
  nodes.push(
    superviseNode(spec, {
      log: cliLog,
      maxRestarts: MAX_RESTARTS,
      restartDelayMs: RESTART_DELAY_MS,
      readyTimeoutMs: READY_TIMEOUT_MS,
      onGiveUp: (reason) => void finish(reason, 'SIGTERM', 1),
    }),
  );
}

const ready = await Promise.all(nodes.map((node) => node.ready(READY_TIMEOUT_MS)));
// A signal, or a node that gave up, may have started the stop meanwhile (TypeScript cannot see
// the callbacks assign it).
const stopping = finishing as Promise<never> | null;
if (stopping) await stopping;
const late = specs.filter((_, i) => !ready[i]).map((spec) => spec.number);
if (late.length) {
  cliLog.error({ nodes: late, timeoutMs: READY_TIMEOUT_MS }, 'nodes did not get ready');
  await finish('nodes did not get ready', 'SIGTERM', 1);
}

const lines = [
  '',
  `boxoffice cluster is up: ${specs.length} node${specs.length > 1 ? 's' : ''} sharing one PostgreSQL and one Redis${env['REDIS_CLUSTER_NODES'] ? ' Cluster' : ''}.`,
  ...nodes.map((node) => `  node ${node.spec.number}  ${node.spec.url}/   ready: ${node.spec.url}/health/ready   pid ${node.pid() ?? '-'}`),
  `  DATABASE_URL   ${redactUrl(String(env['DATABASE_URL']))}`,
  redisLine(env),
  'Any node serves any request; a node that dies is restarted. Press Ctrl-C to stop them all',
  '(local PostgreSQL and Redis stop with them).',
  '',
];
process.stdout.write(lines.join('\n'));
