// The only reader of process.env: one zod schema for every variable, a frozen typed Config out,
// and a refusal to start in production with anything unsafe. `.env.example` documents each one.
import { z } from 'zod';
import type { RedisTarget } from './store/redis.ts';

const DEV_JWT_SECRET = 'dev-only-insecure-jwt-secret-do-not-use-in-production';

/** Secrets that must never reach production: our dev default and the usual placeholders. */
const WEAK_SECRETS = new Set([DEV_JWT_SECRET, 'secret', 'changeme', 'change-me', 'password', 'test', 'dev']);
const MIN_SECRET_LENGTH = 32;

const csv = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part.length > 0),
  );

const port = z.coerce.number().int().min(0).max(65_535);
const positiveInt = z.coerce.number().int().positive();

export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: port.default(3000),
  PUBLIC_URL: z.url().optional(),

  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }),
  DATABASE_POOL_MAX: positiveInt.max(200).default(10),
  /** One Redis; optional when REDIS_CLUSTER_NODES names a cluster instead. */
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
  /** A Redis Cluster: some of its masters (seed nodes) as `redis://[:password@]host:port`, comma-separated. */
  REDIS_CLUSTER_NODES: csv.pipe(z.array(z.url({ protocol: /^rediss?$/ })).min(1, 'list at least one seed node')).optional(),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[a-z0-9_-]{1,32}$/i, 'letters, digits, _ or -, at most 32')
    .default('bo'),

  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_PRETTY: z.stringbool().optional(),

  CORS_ORIGINS: csv.default(['http://localhost:3000', 'http://127.0.0.1:3000']),
  TRUSTED_PROXIES: csv.default([]),
  API_DOCS: z.stringbool().optional(),
  BODY_LIMIT_BYTES: positiveInt.max(64 * 1024 * 1024).default(1024 * 1024),
  REQUEST_TIMEOUT_MS: positiveInt.default(30_000),
  SHUTDOWN_TIMEOUT_MS: positiveInt.default(10_000),
  /** After readiness turns 503, keep serving this long so load balancers notice before the listener closes. */
  SHUTDOWN_DRAIN_DELAY_MS: z.coerce.number().int().min(0).max(120_000).default(0),

  JWT_SECRET: z.string().min(1).default(DEV_JWT_SECRET),
  ACCESS_TOKEN_TTL_SECONDS: positiveInt.min(60).max(3600).default(900),
  REFRESH_TOKEN_TTL_SECONDS: positiveInt.min(3600).max(90 * 24 * 3600).default(30 * 24 * 3600),
  SESSION_IDLE_TIMEOUT_SECONDS: positiveInt.min(300).default(12 * 3600),

  MAILER: z.enum(['outbox', 'smtp']).default('outbox'),
  SMTP_URL: z.url({ protocol: /^smtps?$/ }).optional(),
  MAIL_FROM: z.string().min(3).max(200).default('boxoffice <no-reply@boxoffice.invalid>'),

  RATE_LIMIT_GLOBAL_PER_MINUTE: positiveInt.default(600),
  RATE_LIMIT_AUTH_PER_IP_PER_15_MIN: positiveInt.default(30),
  RATE_LIMIT_AUTH_PER_ACCOUNT_PER_15_MIN: positiveInt.default(5),
  RATE_LIMIT_PURCHASES_PER_USER_PER_MINUTE: positiveInt.default(10),
  RATE_LIMIT_WEBHOOKS_PER_MINUTE: positiveInt.default(600),
  RATE_LIMIT_WAITING_ROOM_PER_USER_PER_MINUTE: positiveInt.default(60),

  PAYMENT_PROVIDER: z.enum(['sandbox', 'stripe', 'paystack']).default('sandbox'),
  STRIPE_SECRET_KEY: z.string().regex(/^(sk|rk)_(test|live)_[A-Za-z0-9]{8,}$/, 'must look like sk_test_... or sk_live_...').optional(),
  STRIPE_WEBHOOK_SECRET: z.string().regex(/^whsec_[A-Za-z0-9+/=]{8,}$/, 'must look like whsec_...').optional(),
  /** For Stripe Elements on the buyer's page (publishable, not a secret). */
  STRIPE_PUBLISHABLE_KEY: z.string().regex(/^pk_(test|live)_[A-Za-z0-9]{8,}$/, 'must look like pk_test_... or pk_live_...').optional(),
  /** Only to point the SDK at a local stand-in (tests, demos); unset means Stripe itself. */
  STRIPE_API_URL: z.url({ protocol: /^https?$/ }).optional(),
  PAYSTACK_SECRET_KEY: z.string().regex(/^sk_(test|live)_[A-Za-z0-9]{8,}$/, 'must look like sk_test_... or sk_live_...').optional(),
  PAYSTACK_API_URL: z.url({ protocol: /^https?$/ }).default('https://api.paystack.co'),
  /** Where Paystack sends the buyer after paying (your buyer page). */
  PAYSTACK_CALLBACK_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** A payment still pending after this long is looked up at the provider (a webhook may be lost). */
  PAYMENT_RECONCILE_AFTER_SECONDS: positiveInt.min(1).max(24 * 3600).default(120),

  HOLD_TTL_SECONDS: positiveInt.min(1).max(3600).default(600),
  /** At least a minute: a hold's Redis record must outlive the relay that finishes a hold whose node died (30 s). */
  HOLD_GRACE_SECONDS: positiveInt.min(60, 'at least 60: a hold must outlive the retry of one whose node died').max(3600).default(300),
  MAX_TICKETS_PER_CUSTOMER_PER_EVENT: positiveInt.max(1000).default(20),
  SWEEP_INTERVAL_SECONDS: positiveInt.min(1).max(3600).default(30),

  /** Waiting rooms: visitors admitted per second per event (an event may set its own). */
  WAITING_ROOM_ADMIT_PER_SECOND: positiveInt.max(2000).default(50),
  /** How long an admitted visitor has to place a hold (also the admission token's lifetime). */
  WAITING_ROOM_HOLD_WINDOW_SECONDS: positiveInt.min(10).max(3600).default(300),
  /** How often each node runs an admission round for every open waiting room. */
  WAITING_ROOM_TICK_MS: positiveInt.min(100).max(5000).default(1000),

  LIVE_INTERVAL_MS: positiveInt.min(10).max(10_000).default(100),
  LIVE_DELIVERIES_PER_SECOND: positiveInt.min(100).default(30_000),
  LIVE_MAX_CONNECTIONS_PER_IP: positiveInt.default(50),
  LIVE_MAX_WATCHES_PER_SOCKET: positiveInt.max(100).default(10),
  SCANNER_MESSAGES_PER_SECOND: positiveInt.default(20),
  /** Doors open this many hours before an event starts; earlier scans are not valid yet. */
  SCANNER_ADMIT_FROM_HOURS: positiveInt.max(24 * 365).default(12),

  /** Serve /metrics on this port of its own (0.0.0.0 inside a private network) instead of PORT. */
  METRICS_PORT: port.optional(),
  /** Bearer token /metrics asks for (on either port); at least 32 characters. */
  METRICS_TOKEN: z.string().min(MIN_SECRET_LENGTH, `at least ${MIN_SECRET_LENGTH} characters`).optional(),

  /** Error tracking: reports go to this Sentry DSN; unset means errors are only logged. */
  SENTRY_DSN: z.url({ protocol: /^https?$/ }).optional(),
  SENTRY_ENVIRONMENT: z.string().min(1).max(64).optional(),
  /** The build's release name on error reports and spans (default: boxoffice@<package version>). */
  RELEASE: z.string().min(1).max(200).optional(),
});

export type Env = z.infer<typeof envSchema>;

export interface Config {
  readonly env: Env['NODE_ENV'];
  readonly isProduction: boolean;
  readonly http: {
    readonly host: string;
    readonly port: number;
    readonly publicUrl: string;
    readonly corsOrigins: readonly string[];
    readonly trustedProxies: readonly string[];
    readonly apiDocs: boolean;
    readonly bodyLimitBytes: number;
    readonly requestTimeoutMs: number;
    readonly shutdownTimeoutMs: number;
    readonly shutdownDrainDelayMs: number;
  };
  readonly postgres: { readonly url: string; readonly poolMax: number };
  readonly redis: {
    /** One Redis, or a cluster: what every connection of the node is made to. */
    readonly target: RedisTarget;
    /**
     * REDIS_URL, or the first seed node of a cluster: one server only, for tools that talk to a
     * single node (connections of the node itself are made to `target`).
     */
    readonly url: string;
    readonly keyPrefix: string;
  };
  readonly log: { readonly level: Env['LOG_LEVEL']; readonly pretty: boolean };
  readonly auth: {
    readonly jwtSecret: string;
    readonly accessTokenTtlSeconds: number;
    readonly refreshTokenTtlSeconds: number;
    readonly sessionIdleTimeoutSeconds: number;
  };
  readonly mail: { readonly transport: Env['MAILER']; readonly smtpUrl: string | null; readonly from: string };
  readonly rateLimits: {
    readonly globalPerMinute: number;
    readonly authPerIpPer15Min: number;
    readonly authPerAccountPer15Min: number;
    readonly purchasesPerUserPerMinute: number;
    readonly webhooksPerMinute: number;
    readonly waitingRoomPerUserPerMinute: number;
  };
  readonly payments: {
    readonly provider: Env['PAYMENT_PROVIDER'];
    readonly stripe: { readonly secretKey: string; readonly webhookSecret: string; readonly apiUrl: string | null; readonly publishableKey: string | null } | null;
    readonly paystack: { readonly secretKey: string; readonly apiUrl: string; readonly callbackUrl: string | null } | null;
    readonly reconcileAfterMs: number;
  };
  readonly live: {
    readonly intervalMs: number;
    readonly deliveriesPerSecond: number;
    readonly maxConnectionsPerIp: number;
    readonly maxWatchesPerSocket: number;
  };
  readonly scanning: { readonly messagesPerSecond: number; readonly admitFromMs: number };
  /** /metrics: on its own port when `port` is set (else on the API's), behind `token` when set. */
  readonly metrics: { readonly port: number | null; readonly token: string | null };
  readonly errorTracking: { readonly dsn: string | null; readonly environment: string; readonly release: string | null };
  readonly purchases: {
    readonly holdTtlMs: number;
    readonly holdGraceMs: number;
    readonly maxTicketsPerCustomerPerEvent: number;
    readonly sweepIntervalMs: number;
  };
  readonly waitingRoom: { readonly admitPerSecond: number; readonly holdWindowSeconds: number; readonly tickMs: number };
}

export interface ConfigProblem {
  readonly variable: string;
  readonly message: string;
}

export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const lines = problems.map((p) => `  - ${p.variable}: ${p.message}`).join('\n');
    super(`invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type RawEnv = Readonly<Record<string, string | undefined>>;

/** Rules that only production enforces; checked on the raw values so every offender is listed at once. */
function productionProblems(raw: RawEnv): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const secret = raw['JWT_SECRET'];
  if (secret === undefined || secret === '') {
    problems.push({ variable: 'JWT_SECRET', message: 'required in production' });
  } else if (secret.length < MIN_SECRET_LENGTH) {
    problems.push({ variable: 'JWT_SECRET', message: `must be at least ${MIN_SECRET_LENGTH} characters in production` });
  } else if (WEAK_SECRETS.has(secret) || /^(.)\1*$/.test(secret)) {
    problems.push({ variable: 'JWT_SECRET', message: 'is a default or weak value; generate a random one' });
  }
  const origins = (raw['CORS_ORIGINS'] ?? '').split(',').map((o) => o.trim());
  if (raw['CORS_ORIGINS'] === undefined || origins.every((o) => o === '')) {
    problems.push({ variable: 'CORS_ORIGINS', message: 'must list the allowed origins in production' });
  } else if (origins.some((o) => o === '*' || o.includes('*'))) {
    problems.push({ variable: 'CORS_ORIGINS', message: 'wildcard origins are refused in production' });
  }
  if (raw['API_DOCS'] !== undefined && /^(true|1|yes|on|y|enabled)$/i.test(raw['API_DOCS'])) {
    problems.push({ variable: 'API_DOCS', message: 'API docs must be off in production' });
  }
  if ((raw['MAILER'] ?? 'outbox') === 'outbox') {
    problems.push({ variable: 'MAILER', message: 'the development outbox is refused in production; use smtp' });
  }
  if ((raw['PAYMENT_PROVIDER'] ?? 'sandbox') === 'sandbox') {
    problems.push({ variable: 'PAYMENT_PROVIDER', message: 'the sandbox provider is refused in production' });
  }
  for (const variable of ['STRIPE_API_URL', 'PAYSTACK_API_URL']) {
    if (raw[variable]?.startsWith('http:')) problems.push({ variable, message: 'must be https in production' });
  }
  if (!raw['METRICS_PORT'] && !raw['METRICS_TOKEN']) {
    problems.push({ variable: 'METRICS_PORT', message: 'metrics are not public in production: set METRICS_PORT (a private port) or METRICS_TOKEN' });
  }
  const metricsToken = raw['METRICS_TOKEN'];
  if (metricsToken && (WEAK_SECRETS.has(metricsToken) || /^(.)\1*$/.test(metricsToken))) {
    problems.push({ variable: 'METRICS_TOKEN', message: 'is a default or weak value; generate a random one' });
  }
  return problems;
}

/**
 * The seed nodes of one cluster share its credentials and scheme (the client uses one set for every
 * master it finds), name host and port, and use database 0, the only one a cluster has.
 */
function clusterNodeProblems(nodes: readonly string[]): ConfigProblem[] {
  const problem = (message: string): ConfigProblem[] => [{ variable: 'REDIS_CLUSTER_NODES', message }];
  const urls = nodes.map((node) => new URL(node));
  if (urls.some((url) => !url.hostname || !url.port)) return problem('every seed node needs a host and a port (redis://[:password@]host:port)');
  if (urls.some((url) => !['', '/', '/0'].includes(url.pathname))) return problem('a Redis Cluster has only database 0; drop the /<db> path');
  const credentials = new Set(urls.map((url) => `${url.protocol}//${url.username}:${url.password}`));
  if (credentials.size > 1) return problem('every seed node must use the same scheme, user and password');
  return [];
}

/** Parses the environment into a frozen Config, or throws one ConfigError naming every bad variable. */
export function loadConfig(raw: RawEnv = process.env): Config {
  const parsed = envSchema.safeParse(raw);
  const problems: ConfigProblem[] = parsed.success
    ? []
    : parsed.error.issues.map((issue) => ({
        variable: String(issue.path[0] ?? '(environment)'),
        message: raw[String(issue.path[0])] === undefined && issue.code === 'invalid_type' ? 'required' : issue.message,
      }));
  if (raw['NODE_ENV'] === 'production') problems.push(...productionProblems(raw));
  if (parsed.success && parsed.data.SHUTDOWN_DRAIN_DELAY_MS >= parsed.data.SHUTDOWN_TIMEOUT_MS) {
    problems.push({ variable: 'SHUTDOWN_DRAIN_DELAY_MS', message: 'must be shorter than SHUTDOWN_TIMEOUT_MS, which bounds the whole shutdown' });
  }
  if (raw['REDIS_URL'] === undefined && raw['REDIS_CLUSTER_NODES'] === undefined) {
    problems.push({ variable: 'REDIS_URL', message: 'required (or REDIS_CLUSTER_NODES for a Redis Cluster)' });
  }
  if (parsed.success && parsed.data.REDIS_CLUSTER_NODES) problems.push(...clusterNodeProblems(parsed.data.REDIS_CLUSTER_NODES));
  if (raw['MAILER'] === 'smtp' && !raw['SMTP_URL']) problems.push({ variable: 'SMTP_URL', message: 'required when MAILER=smtp' });
  if (raw['PAYMENT_PROVIDER'] === 'stripe') {
    for (const variable of ['STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET']) {
      if (!raw[variable]) problems.push({ variable, message: 'required when PAYMENT_PROVIDER=stripe' });
    }
  }
  if (raw['PAYMENT_PROVIDER'] === 'paystack' && !raw['PAYSTACK_SECRET_KEY']) {
    problems.push({ variable: 'PAYSTACK_SECRET_KEY', message: 'required when PAYMENT_PROVIDER=paystack' });
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);

  const e = parsed.data;
  const isProduction = e.NODE_ENV === 'production';
  return deepFreeze({
    env: e.NODE_ENV,
    isProduction,
    http: {
      host: e.HOST,
      port: e.PORT,
      publicUrl: e.PUBLIC_URL ?? `http://${e.HOST === '0.0.0.0' ? 'localhost' : e.HOST}:${e.PORT}`,
      corsOrigins: e.CORS_ORIGINS,
      trustedProxies: e.TRUSTED_PROXIES,
      apiDocs: e.API_DOCS ?? !isProduction,
      bodyLimitBytes: e.BODY_LIMIT_BYTES,
      requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
      shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
      shutdownDrainDelayMs: e.SHUTDOWN_DRAIN_DELAY_MS,
    },
    postgres: { url: e.DATABASE_URL, poolMax: e.DATABASE_POOL_MAX },
    redis: redisSettings(e),
    log: { level: e.LOG_LEVEL, pretty: e.LOG_PRETTY ?? (!isProduction && process.stdout.isTTY) },
    auth: {
      jwtSecret: e.JWT_SECRET,
      accessTokenTtlSeconds: e.ACCESS_TOKEN_TTL_SECONDS,
      refreshTokenTtlSeconds: e.REFRESH_TOKEN_TTL_SECONDS,
      sessionIdleTimeoutSeconds: e.SESSION_IDLE_TIMEOUT_SECONDS,
    },
    mail: { transport: e.MAILER, smtpUrl: e.SMTP_URL ?? null, from: e.MAIL_FROM },
    rateLimits: {
      globalPerMinute: e.RATE_LIMIT_GLOBAL_PER_MINUTE,
      authPerIpPer15Min: e.RATE_LIMIT_AUTH_PER_IP_PER_15_MIN,
      authPerAccountPer15Min: e.RATE_LIMIT_AUTH_PER_ACCOUNT_PER_15_MIN,
      purchasesPerUserPerMinute: e.RATE_LIMIT_PURCHASES_PER_USER_PER_MINUTE,
      webhooksPerMinute: e.RATE_LIMIT_WEBHOOKS_PER_MINUTE,
      waitingRoomPerUserPerMinute: e.RATE_LIMIT_WAITING_ROOM_PER_USER_PER_MINUTE,
    },
    payments: {
      provider: e.PAYMENT_PROVIDER,
      stripe:
        e.STRIPE_SECRET_KEY && e.STRIPE_WEBHOOK_SECRET
          ? {
              secretKey: e.STRIPE_SECRET_KEY,
              webhookSecret: e.STRIPE_WEBHOOK_SECRET,
              apiUrl: e.STRIPE_API_URL ?? null,
              publishableKey: e.STRIPE_PUBLISHABLE_KEY ?? null,
            }
          : null,
      paystack: e.PAYSTACK_SECRET_KEY
        ? { secretKey: e.PAYSTACK_SECRET_KEY, apiUrl: e.PAYSTACK_API_URL, callbackUrl: e.PAYSTACK_CALLBACK_URL ?? null }
        : null,
      reconcileAfterMs: e.PAYMENT_RECONCILE_AFTER_SECONDS * 1000,
    },
    live: {
      intervalMs: e.LIVE_INTERVAL_MS,
      deliveriesPerSecond: e.LIVE_DELIVERIES_PER_SECOND,
      maxConnectionsPerIp: e.LIVE_MAX_CONNECTIONS_PER_IP,
      maxWatchesPerSocket: e.LIVE_MAX_WATCHES_PER_SOCKET,
    },
    scanning: { messagesPerSecond: e.SCANNER_MESSAGES_PER_SECOND, admitFromMs: e.SCANNER_ADMIT_FROM_HOURS * 3600 * 1000 },
    metrics: { port: e.METRICS_PORT ?? null, token: e.METRICS_TOKEN ?? null },
    errorTracking: { dsn: e.SENTRY_DSN ?? null, environment: e.SENTRY_ENVIRONMENT ?? e.NODE_ENV, release: e.RELEASE ?? null },
    purchases: {
      holdTtlMs: e.HOLD_TTL_SECONDS * 1000,
      holdGraceMs: e.HOLD_GRACE_SECONDS * 1000,
      maxTicketsPerCustomerPerEvent: e.MAX_TICKETS_PER_CUSTOMER_PER_EVENT,
      sweepIntervalMs: e.SWEEP_INTERVAL_SECONDS * 1000,
    },
    waitingRoom: {
      admitPerSecond: e.WAITING_ROOM_ADMIT_PER_SECOND,
      holdWindowSeconds: e.WAITING_ROOM_HOLD_WINDOW_SECONDS,
      tickMs: e.WAITING_ROOM_TICK_MS,
    },
  });
}

/** The cluster when one is named (it wins over REDIS_URL), else the one Redis; loadConfig checked one is set. */
function redisSettings(e: Env): Config['redis'] {
  const nodes = e.REDIS_CLUSTER_NODES;
  if (nodes?.length) return { target: { kind: 'cluster', nodes }, url: nodes[0]!, keyPrefix: e.REDIS_KEY_PREFIX };
  const url = e.REDIS_URL!;
  return { target: { kind: 'single', url }, url, keyPrefix: e.REDIS_KEY_PREFIX };
}

function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (child !== null && typeof child === 'object' && !Object.isFrozen(child)) deepFreeze(child as object);
  }
  return Object.freeze(value);
}
