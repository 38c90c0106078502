// Wires one running node: stores -> app -> listen -> signal handlers. main.ts and the dev
// launcher both call startServer; tests call it too, with their own exit().
import { fileURLToPath } from 'node:url';
import { buildAppWithRoutes, PACKAGE_VERSION, type AppDeps } from './app.ts';
import type { Config } from './config.ts';
import type { RouteEntry } from './http/policy.ts';
import type { App } from './http/types.ts';
import { createCatalog } from './catalog/index.ts';
import { createIdentity, type Identity } from './identity/index.ts';
import { createMailQueue, createOutboxMailer, createSmtpMailer, MAIL_QUEUE, startMailWorker } from './mail/index.ts';
import { createLive, type Live } from './live/index.ts';
import { attachScanners, scanningRoutes } from './scanning/index.ts';
import {
  createLogger,
  createMetrics,
  METRICS_PATH,
  readinessChecks,
  startMetricsServer,
  type Logger,
  type Metrics,
  type MetricsServer,
} from './observability/index.ts';
import { queueDepths } from './jobs/index.ts';
import { PAYMENT_EVENTS_QUEUE } from './payments/index.ts';
import type { Telemetry } from './observability/telemetry.ts';
import { createErrorTracker, type ErrorTracker } from './observability/error-tracking.ts';
import { watchProcessErrors } from './observability/process-errors.ts';
import { createPurchases, EVENT_REFUNDS_QUEUE, HOLD_TIMER_QUEUE, rebuildAvailability, type Purchases } from './purchases/index.ts';
import { createShutdown, type ShutdownController, type ShutdownStep } from './shutdown.ts';
import { connectRedis, createPostgres, createRedis, createStoreClock, readMigrations, type Redis, type Sql } from './store/index.ts';
import { createWaitingRoom, type WaitingRoom } from './waiting-room/index.ts';

/** Where `npm run build` puts the web client. */
export const WEB_CLIENT_DIR = fileURLToPath(new URL('../clients/web/dist', import.meta.url));

export interface StartOptions {
  /** The built web client served at `/` (default: clients/web/dist). */
  webClientDir?: string;
  log?: Logger;
  /** Run after the server and its pools are closed (e.g. stop the local stack). */
  afterClose?: readonly ShutdownStep[];
  exit?: (code: number) => void;
  /** Listen for SIGTERM/SIGINT (the real process does; in-process tests do not). */
  handleSignals?: boolean;
  /** The process's OpenTelemetry (instrument.ts): flushed and stopped last on shutdown. */
  telemetry?: Telemetry | null;
  apiPlugins?: AppDeps['apiPlugins'];
  /** The waiting rooms' clock, epoch ms (default Date.now): tests drive admission rounds with it. */
  waitingRoomClock?: () => number;
}

export interface RunningServer {
  app: App;
  live: Live;
  identity: Identity;
  purchases: Purchases;
  waitingRoom: WaitingRoom;
  /** Every guarded route with its authorization policy. */
  routes: RouteEntry[];
  url: string;
  /** Where this node's metrics are served (its own listener, or /metrics of the API). */
  metricsUrl: string;
  metrics: Metrics;
  sql: Sql;
  redis: Redis;
  lifecycle: ShutdownController;
  errorTracker: ErrorTracker;
}

export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const log = options.log ?? createLogger(config.log);
  const lifecycle = createShutdown({
    log,
    timeoutMs: config.http.shutdownTimeoutMs,
    drainDelayMs: config.http.shutdownDrainDelayMs,
    exit: options.exit ?? ((code) => process.exit(code)),
  });
  const { release } = config.errorTracking;
  const errorTracker = await createErrorTracker({ ...config.errorTracking, release: release ?? `boxoffice@${PACKAGE_VERSION}` }, log);

  const sql = createPostgres({ url: config.postgres.url, poolMax: config.postgres.poolMax });
  const redis = createRedis({ target: config.redis.target, name: 'boxoffice-app' });
  redis.on('error', (err) => log.warn({ err }, 'redis connection error'));
  await connectRedis(redis);
  const migrations = await readMigrations();

  const metrics = createMetrics();
  const queues = {
    redis: config.redis.target,
    keyPrefix: config.redis.keyPrefix,
    onJobFailed: (queue: string) => metrics.queueFailures.inc({ queue }),
  };
  const mailQueue = createMailQueue(queues, redis);
  const mailer = config.mail.transport === 'smtp' && config.mail.smtpUrl
    ? createSmtpMailer(config.mail.smtpUrl, config.mail.from)
    : createOutboxMailer(sql);
  const mailWorker = startMailWorker(queues, mailer, log);
  const identity = createIdentity({ config, sql, redis, mail: mailQueue });
  const live = createLive({ config, redis, log, metrics });
  const waitingRoom = createWaitingRoom({ config, sql, redis, log, metrics, ...(options.waitingRoomClock ? { now: options.waitingRoomClock } : {}) });
  // Hold deadlines are set and enforced on the database's clock, whichever node's clock is off. It
  // is measured on a connection of its own: a wait for a pooled one would read as clock offset.
  const clockSql = createPostgres({ url: config.postgres.url, poolMax: 1, applicationName: 'boxoffice-clock' });
  const clock = createStoreClock({ sql: clockSql, log });
  metrics.readFrom({ storeClockOffsetMs: () => clock.offsetMs() });
  const purchases = createPurchases({ config, sql, redis, log, queues, live, metrics, admission: waitingRoom.gate, clock });
  const queueNames = [MAIL_QUEUE, HOLD_TIMER_QUEUE, PAYMENT_EVENTS_QUEUE, EVENT_REFUNDS_QUEUE];
  const depths = queueDepths(queues, redis, queueNames);
  metrics.readFrom({ queueJobs: () => depths.read() });
  // Every queue's failure series exists from the start, so rate() works before the first failure.
  for (const queue of queueNames) metrics.queueFailures.inc({ queue }, 0);
  const catalog = createCatalog({ sql, heldCount: purchases.heldCount, seatStates: purchases.seatStates, onEventCancelled: (eventId) => purchases.refunds.enqueueEvent(eventId) });

  const { app, routes } = await buildAppWithRoutes({
    config,
    log,
    isShuttingDown: () => lifecycle.isShuttingDown(),
    isClosing: () => lifecycle.isClosing(),
    authenticate: identity.authenticate,
    rateLimits: {
      redis,
      keyPrefix: config.redis.keyPrefix,
      globalPerMinute: config.rateLimits.globalPerMinute,
      purchasesPerUserPerMinute: config.rateLimits.purchasesPerUserPerMinute,
      webhooksPerMinute: config.rateLimits.webhooksPerMinute,
    },
    apiPlugins: [identity.routes, catalog.routes, ...purchases.routes, waitingRoom.routes, scanningRoutes(sql), ...(options.apiPlugins ?? [])],
    readiness: readinessChecks({ sql, redis, migrations, queues: { names: queueNames, workers: () => [mailWorker, ...purchases.workers()] } }),
    webClientDir: options.webClientDir ?? WEB_CLIENT_DIR,
    metrics: { metrics, servedHere: config.metrics.port === null, token: config.metrics.token },
    reportServerError: (err, where) => errorTracker.report(err, where),
  });

  const io = live.attach({
    httpServer: app.server,
    sql,
    inventory: purchases.inventory,
    seatStates: purchases.seatStates,
    authenticate: identity.authenticate,
    rebuildCounts: async (eventId) => void (await rebuildAvailability(sql, purchases.inventory, eventId, { onlyIfMissing: true })),
  });
  waitingRoom.attach(io);
  const scanners = attachScanners({
    httpServer: app.server,
    sql,
    signer: purchases.ticketSigner,
    authenticateDevice: (token) => identity.devices.authenticate(token),
    log,
    messagesPerSecond: config.scanning.messagesPerSecond,
    admitFromMs: config.scanning.admitFromMs,
    onAdmitted: (eventId) => live.admitted(eventId),
    onChecked: (outcome) => metrics.scannerValidations.inc({ outcome }),
  });
  let metricsServer: MetricsServer | null = null;
  // Admission rounds stop first (they push to sockets); other nodes' rounds carry on.
  lifecycle.add({ name: 'waiting room rounds', run: () => waitingRoom.close() });
  // Sockets first: open WebSockets would otherwise keep the HTTP server from closing (Socket.IO's
  // close also closes the HTTP server, so the scanners' sockets must be gone before it).
  lifecycle.add({ name: 'scanner sockets', run: () => scanners.close() });
  lifecycle.add({ name: 'live sockets', run: () => live.close() });
  lifecycle.add({ name: 'http', run: () => app.close() });
  lifecycle.add({ name: 'metrics listener', run: async () => await metricsServer?.close() });
  lifecycle.add({ name: 'purchase workers', run: () => purchases.close() });
  lifecycle.add({
    name: 'store clock',
    run: async () => {
      clock.close();
      await clockSql.end({ timeout: 5 });
    },
  });
  lifecycle.add({ name: 'mail worker', run: () => mailWorker.close() });
  lifecycle.add({ name: 'mail queue', run: () => mailQueue.close() });
  lifecycle.add({ name: 'queue depths', run: () => depths.close() });
  lifecycle.add({ name: 'redis', run: async () => void (await redis.quit()) });
  lifecycle.add({ name: 'postgres', run: () => sql.end({ timeout: 5 }) });
  for (const step of options.afterClose ?? []) lifecycle.add(step);
  const telemetry = options.telemetry;
  lifecycle.add({ name: 'error tracking', run: async () => void (await errorTracker.flush()) });
  if (telemetry) lifecycle.add({ name: 'telemetry', run: () => telemetry.shutdown() });

  if (options.handleSignals ?? true) {
    watchProcessErrors(errorTracker, log, lifecycle);
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => void lifecycle.shutdown(signal));
    }
  }

  await clock.start();
  purchases.start();
  waitingRoom.start();
  const url = await app.listen({ host: config.http.host, port: config.http.port });
  if (config.metrics.port !== null) {
    metricsServer = await startMetricsServer({ host: config.http.host, port: config.metrics.port, metrics, token: config.metrics.token, log });
  }
  return { app, routes, url, metricsUrl: metricsServer?.url ?? `${url}${METRICS_PATH}`, metrics, sql, redis, lifecycle, purchases, waitingRoom, live, identity, errorTracker };
}
