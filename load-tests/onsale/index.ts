// The on-sale load test: a spike of buyers and watchers against boxoffice nodes (and, for the
// ratio, against the naive purchase path), every promise of DESIGN.md checked at the end, results
// written to load-tests/results/<name>.{json,md,svg}. Bounded in count and time; exits 1 when a
// promise breaks, 2 when the run itself could not finish. Options and scenarios: ./options.ts,
// ./scenarios.ts, load-tests/README.md.
//
//   npm run loadtest -- --scenario smoke|spike|hot-ga|watchers|waiting-room [options]
import { relative } from 'node:path';
import { naivePhase } from './baseline-phase.ts';
import { boxofficePhase } from './boxoffice-phase.ts';
import { stopAll } from './children.ts';
import { ROOT } from './nodes.ts';
import { OptionsError, parseOptions } from './options.ts';
import { planBuyers } from './plan.ts';
import { buildResult, writeResult } from './report-json.ts';
import { seedSale } from './seed.ts';
import { openStores, type Stores } from './stores.ts';

const say = (line: string) => process.stdout.write(`[onsale ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

let stores: Stores | null = null;
let ending = false;

/** Stops every child and the throwaway stores, then exits; runs once whatever asked first. */
async function end(code: number, why?: string): Promise<never> {
  if (ending) return new Promise<never>(() => {});
  ending = true;
  if (why) say(why);
  const cleanup = (async () => {
    await stopAll(5_000);
    await stores?.stop();
  })();
  // Cleaning up is bounded too.
  await Promise.race([cleanup.catch(() => {}), new Promise((resolve) => setTimeout(resolve, 30_000).unref())]);
  process.exit(code);
}

async function main(): Promise<void> {
  let options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    const help = err instanceof OptionsError && err.message.startsWith('npm run');
    (help ? process.stdout : process.stderr).write(`${(err as Error).message}\n`);
    process.exit(help ? 0 : 2);
  }
  const startedAt = new Date();
  const hardDeadline = Date.now() + options.timeoutSeconds * 1000;
  setTimeout(() => void end(2, `hard timeout: the run took more than ${options.timeoutSeconds} s; stopped`), options.timeoutSeconds * 1000).unref();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void end(130, `${signal}: stopping`));

  say(`scenario ${options.scenario}: ${options.buyers} buyers, ${options.watchers} watchers, ${options.events} x ${options.capacity} (${options.kinds.join(', ')}), ${options.target.length ? `targets ${options.target.join(', ')}` : `${options.nodes} node(s)`}`);
  stores = await openStores(options.target);
  const sale = await seedSale(stores.sql, stores.config, options);
  const plans = planBuyers(options, sale.events, sale.tokens);
  const context = { options, stores, events: sale.events, warmup: sale.warmup, plans, hardDeadline, say };

  const boxoffice = await boxofficePhase(context);
  let naive = null;
  if (options.baseline === 'naive' && options.target.length) say('naive baseline skipped: it runs only with nodes this run starts');
  else if (options.baseline === 'naive') naive = await naivePhase(context);

  const result = buildResult({ options, startedAt, boxoffice, naive });
  const files = await writeResult(result);
  const b = result.boxoffice.buyers;
  say(`holds ${b.held}/${b.holdRequests} at ${b.holdsPerSecond}/s (peak ${b.peakHoldsPerSecond}); confirms ${b.confirmed} at ${b.confirmsPerSecond}/s`);
  say(`latency p50/p99 ms: hold ${b.latencyMs.hold.p50}/${b.latencyMs.hold.p99}, pay ${b.latencyMs.pay.p50}/${b.latencyMs.pay.p99}, confirm ${b.latencyMs.confirm.p50}/${b.latencyMs.confirm.p99}; broadcast lag ${result.boxoffice.broadcastLag.lastWatcherMs.p50}/${result.boxoffice.broadcastLag.lastWatcherMs.p99}`);
  if (result.baseline) say(`vs naive: holds/s x${result.baseline.ratio.holdsPerSecond}, hold p99 x${result.baseline.ratio.holdP99} (naive ${result.baseline.buyers.holdsPerSecond}/s, p99 ${result.baseline.buyers.latencyMs.hold.p99} ms)`);
  for (const [name, verdict] of Object.entries(result.promises)) say(`promise ${name}: ${verdict}${verdict === 'fail' ? ` — ${(result.findings[name] ?? []).slice(0, 3).join('; ')}` : ''}`);
  say(`results: ${files.map((f) => relative(ROOT, f)).join(', ')} (${result.durationSeconds} s)`);
  const broken = Object.values(result.promises).includes('fail');
  await end(broken ? 1 : 0, broken ? 'a promise broke' : undefined);
}

main().catch((err: unknown) => end(2, `the run failed: ${String((err as Error).stack ?? err)}`));
