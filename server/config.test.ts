import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, envSchema, loadConfig } from './config.ts';

const BASE = { DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db', REDIS_URL: 'redis://127.0.0.1:6379' };
const STRONG_SECRET = randomBytes(48).toString('base64url');
const PRODUCTION = {
  ...BASE,
  NODE_ENV: 'production',
  JWT_SECRET: STRONG_SECRET,
  CORS_ORIGINS: 'https://tickets.example.com',
  PAYMENT_PROVIDER: 'stripe',
  STRIPE_SECRET_KEY: 'sk_test_configonly0000',
  STRIPE_WEBHOOK_SECRET: 'whsec_configonly0000',
  MAILER: 'smtp',
  SMTP_URL: 'smtp://mail.example.com:587',
  METRICS_PORT: '9464',
};

function problemsOf(env: Record<string, string>): Map<string, string> {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return new Map((err as ConfigError).problems.map((p) => [p.variable, p.message]));
  }
  throw new Error('expected the configuration to be refused');
}

describe('loadConfig', () => {
  it('fills development defaults', () => {
    const config = loadConfig(BASE);
    expect(config.env).toBe('development');
    expect(config.isProduction).toBe(false);
    expect(config.http).toMatchObject({ host: '127.0.0.1', port: 3000, apiDocs: true, bodyLimitBytes: 1024 * 1024 });
    expect(config.http.publicUrl).toBe('http://127.0.0.1:3000');
    expect(config.http.corsOrigins).toEqual(['http://localhost:3000', 'http://127.0.0.1:3000']);
    expect(config.payments.provider).toBe('sandbox');
    expect(config.mail.transport).toBe('outbox');
    expect(config.auth.accessTokenTtlSeconds).toBe(900);
  });

  it('parses flags as booleans the way people write them (false means false)', () => {
    expect(loadConfig({ ...BASE, API_DOCS: 'false', LOG_PRETTY: 'false' }).http.apiDocs).toBe(false);
    expect(loadConfig({ ...BASE, LOG_PRETTY: 'false' }).log.pretty).toBe(false);
    expect(loadConfig({ ...BASE, LOG_PRETTY: 'true' }).log.pretty).toBe(true);
    expect(problemsOf({ ...BASE, API_DOCS: 'maybe' }).has('API_DOCS')).toBe(true);
  });

  it('splits comma lists and trims them', () => {
    const config = loadConfig({ ...BASE, CORS_ORIGINS: ' https://a.example , https://b.example,, ', TRUSTED_PROXIES: '10.0.0.1, 10.0.0.0/8' });
    expect(config.http.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(config.http.trustedProxies).toEqual(['10.0.0.1', '10.0.0.0/8']);
  });

  it('lists every offending variable in one error', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({ PORT: 'abc', REDIS_URL: 'http://x', LOG_LEVEL: 'loud', BODY_LIMIT_BYTES: '-1' });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const variables = error!.problems.map((p) => p.variable).sort();
    expect(variables).toEqual(['BODY_LIMIT_BYTES', 'DATABASE_URL', 'LOG_LEVEL', 'PORT', 'REDIS_URL']);
    for (const variable of variables) expect(error!.message).toContain(`- ${variable}:`);
    expect(error!.problems.find((p) => p.variable === 'DATABASE_URL')?.message).toBe('required');
  });

  it('takes a Redis Cluster from REDIS_CLUSTER_NODES instead of REDIS_URL', () => {
    const nodes = 'redis://:pw@10.0.0.1:7000, redis://:pw@10.0.0.2:7000';
    const { REDIS_URL: _url, ...withoutUrl } = BASE;
    expect(loadConfig(BASE).redis).toEqual({ target: { kind: 'single', url: BASE.REDIS_URL }, url: BASE.REDIS_URL, keyPrefix: 'bo' });
    const clustered = loadConfig({ ...withoutUrl, REDIS_CLUSTER_NODES: nodes }).redis;
    expect(clustered.target).toEqual({ kind: 'cluster', nodes: ['redis://:pw@10.0.0.1:7000', 'redis://:pw@10.0.0.2:7000'] });
    expect(clustered.url).toBe('redis://:pw@10.0.0.1:7000');
    // Both set: the cluster is used.
    expect(loadConfig({ ...BASE, REDIS_CLUSTER_NODES: nodes }).redis.target.kind).toBe('cluster');
    expect(problemsOf(withoutUrl).get('REDIS_URL')).toMatch(/required .*REDIS_CLUSTER_NODES/);
  });

  it('refuses seed nodes that are not one cluster\'s: bad URLs, no port, a database, mixed passwords', () => {
    const { REDIS_URL: _url, ...withoutUrl } = BASE;
    const problem = (nodes: string) => problemsOf({ ...withoutUrl, REDIS_CLUSTER_NODES: nodes }).get('REDIS_CLUSTER_NODES');
    expect(problem('http://10.0.0.1:7000')).toBeDefined();
    expect(problem(' , ')).toMatch(/at least one/);
    expect(problem('redis://10.0.0.1')).toMatch(/host and a port/);
    expect(problem('redis://10.0.0.1:7000/2')).toMatch(/database 0/);
    expect(problem('redis://:a@10.0.0.1:7000,redis://:b@10.0.0.2:7000')).toMatch(/same scheme, user and password/);
    expect(problem('redis://:a@10.0.0.1:7000,rediss://:a@10.0.0.2:7000')).toMatch(/same scheme/);
  });

  it('requires SMTP_URL when mail goes by SMTP', () => {
    expect(problemsOf({ ...BASE, MAILER: 'smtp' }).get('SMTP_URL')).toMatch(/required/);
  });

  it('refuses every unsafe production setting at once', () => {
    const problems = problemsOf({ ...BASE, NODE_ENV: 'production', CORS_ORIGINS: '*', API_DOCS: 'true' });
    expect([...problems.keys()].sort()).toEqual(['API_DOCS', 'CORS_ORIGINS', 'JWT_SECRET', 'MAILER', 'METRICS_PORT', 'PAYMENT_PROVIDER']);
    expect(problems.get('JWT_SECRET')).toMatch(/required/);
    expect(problems.get('CORS_ORIGINS')).toMatch(/wildcard/);
  });

  it('refuses short, default and repetitive secrets in production', () => {
    expect(problemsOf({ ...PRODUCTION, JWT_SECRET: 'short-secret' }).get('JWT_SECRET')).toMatch(/at least 32/);
    expect(problemsOf({ ...PRODUCTION, JWT_SECRET: 'dev-only-insecure-jwt-secret-do-not-use-in-production' }).get('JWT_SECRET')).toMatch(
      /default or weak/,
    );
    expect(problemsOf({ ...PRODUCTION, JWT_SECRET: 'a'.repeat(40) }).get('JWT_SECRET')).toMatch(/default or weak/);
  });

  it('refuses production without an explicit CORS list, with the sandbox provider or the dev outbox', () => {
    const { CORS_ORIGINS: _omit, ...withoutCors } = PRODUCTION;
    expect(problemsOf(withoutCors).get('CORS_ORIGINS')).toMatch(/must list/);
    expect(problemsOf({ ...PRODUCTION, CORS_ORIGINS: 'https://*.example.com' }).get('CORS_ORIGINS')).toMatch(/wildcard/);
    expect(problemsOf({ ...PRODUCTION, PAYMENT_PROVIDER: 'sandbox' }).has('PAYMENT_PROVIDER')).toBe(true);
    expect(problemsOf({ ...PRODUCTION, MAILER: 'outbox' }).has('MAILER')).toBe(true);
  });

  it('needs the chosen provider\'s keys, in their shapes, and https APIs in production', () => {
    const { STRIPE_SECRET_KEY: _key, STRIPE_WEBHOOK_SECRET: _secret, ...keyless } = PRODUCTION;
    expect([...problemsOf(keyless).keys()].sort()).toEqual(['STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET']);
    expect(problemsOf({ ...PRODUCTION, PAYMENT_PROVIDER: 'paystack' }).get('PAYSTACK_SECRET_KEY')).toMatch(/required/);
    expect(problemsOf({ ...PRODUCTION, STRIPE_SECRET_KEY: 'pk_live_notasecretkey' }).get('STRIPE_SECRET_KEY')).toMatch(/sk_test_/);
    expect(problemsOf({ ...PRODUCTION, STRIPE_API_URL: 'http://127.0.0.1:12111' }).get('STRIPE_API_URL')).toMatch(/https/);
    expect(loadConfig(PRODUCTION).payments.stripe?.apiUrl).toBeNull();
  });

  it('keeps metrics private in production: a port of their own or a strong token', () => {
    const { METRICS_PORT: _port, ...open } = PRODUCTION;
    expect(problemsOf(open).get('METRICS_PORT')).toMatch(/METRICS_PORT .* or METRICS_TOKEN/);
    expect(problemsOf({ ...open, METRICS_TOKEN: 'too-short' }).get('METRICS_TOKEN')).toMatch(/at least 32/);
    expect(problemsOf({ ...open, METRICS_TOKEN: 'x'.repeat(40) }).get('METRICS_TOKEN')).toMatch(/weak/);
    expect(loadConfig({ ...open, METRICS_TOKEN: STRONG_SECRET }).metrics).toEqual({ port: null, token: STRONG_SECRET });
    expect(loadConfig(PRODUCTION).metrics).toEqual({ port: 9464, token: null });
    expect(loadConfig(BASE).metrics).toEqual({ port: null, token: null });
  });

  it('keeps the drain delay inside the shutdown deadline', () => {
    expect(loadConfig({ ...BASE, SHUTDOWN_DRAIN_DELAY_MS: '5000' }).http.shutdownDrainDelayMs).toBe(5000);
    expect(problemsOf({ ...BASE, SHUTDOWN_DRAIN_DELAY_MS: '10000' }).get('SHUTDOWN_DRAIN_DELAY_MS')).toMatch(/shorter than SHUTDOWN_TIMEOUT_MS/);
  });

  it('reads the waiting room settings, within their bounds', () => {
    expect(loadConfig(BASE).waitingRoom).toEqual({ admitPerSecond: 50, holdWindowSeconds: 300, tickMs: 1000 });
    expect(loadConfig(BASE).rateLimits.waitingRoomPerUserPerMinute).toBe(60);
    const config = loadConfig({ ...BASE, WAITING_ROOM_ADMIT_PER_SECOND: '5', WAITING_ROOM_HOLD_WINDOW_SECONDS: '120', WAITING_ROOM_TICK_MS: '250' });
    expect(config.waitingRoom).toEqual({ admitPerSecond: 5, holdWindowSeconds: 120, tickMs: 250 });
    const problems = problemsOf({ ...BASE, WAITING_ROOM_ADMIT_PER_SECOND: '0', WAITING_ROOM_HOLD_WINDOW_SECONDS: '5', WAITING_ROOM_TICK_MS: '60000' });
    expect([...problems.keys()].sort()).toEqual(['WAITING_ROOM_ADMIT_PER_SECOND', 'WAITING_ROOM_HOLD_WINDOW_SECONDS', 'WAITING_ROOM_TICK_MS']);
  });

  it('reads error tracking settings (off unless a DSN is given)', () => {
    expect(loadConfig(BASE).errorTracking).toEqual({ dsn: null, environment: 'development', release: null });
    const config = loadConfig({ ...BASE, SENTRY_DSN: 'https://public@errors.example.com/7', SENTRY_ENVIRONMENT: 'staging', RELEASE: 'boxoffice@1.2.3' });
    expect(config.errorTracking).toEqual({ dsn: 'https://public@errors.example.com/7', environment: 'staging', release: 'boxoffice@1.2.3' });
    expect(problemsOf({ ...BASE, SENTRY_DSN: 'not a url' }).has('SENTRY_DSN')).toBe(true);
  });

  it('accepts a safe production config: docs off, HSTS-worthy, frozen', () => {
    const config = loadConfig(PRODUCTION);
    expect(config.isProduction).toBe(true);
    expect(config.http.apiDocs).toBe(false);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.http)).toBe(true);
    expect(Object.isFrozen(config.http.corsOrigins)).toBe(true);
    expect(() => {
      (config.http as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('.env.example documents every variable the schema reads, and holds no secret', () => {
    const example = readFileSync(new URL('../.env.example', import.meta.url), 'utf8');
    const documented = new Set([...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
    expect(Object.keys(envSchema.shape).filter((name) => !documented.has(name))).toEqual([]);
    expect(example).not.toMatch(/^JWT_SECRET=\S/m);
  });
});
