// What every load test needs: a throwaway PostgreSQL and Redis (migrated), a development config
// with the limits that would throttle a benchmark lifted (also as the environment of a server node
// run as a child process), buyers with signed tokens made straight in the database, and an on-sale
// event with one ticket type (general admission, or seated with its seats).
import { randomUUID } from 'node:crypto';
import { loadConfig, type Config } from '../server/config.ts';
import { createAccessTokens, TOKEN_AUDIENCE, TOKEN_ISSUER } from '../server/identity/index.ts';
import { startLocalStack, type LocalStack } from '../server/local/index.ts';
import { createPostgres, migrateUp, type Sql } from '../server/store/index.ts';

export interface BenchStack {
  stack: LocalStack;
  sql: Sql;
  config: Config;
  stop(): Promise<void>;
}

/** A node's environment over these services: development, quiet, the throttling limits lifted; `env` wins. */
export function benchEnv(urls: { postgres: string; redis: string }, env: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'development',
    DATABASE_URL: urls.postgres,
    REDIS_URL: urls.redis,
    PORT: '0',
    LOG_LEVEL: 'silent',
    RATE_LIMIT_GLOBAL_PER_MINUTE: '10000000',
    RATE_LIMIT_PURCHASES_PER_USER_PER_MINUTE: '10000000',
    MAX_TICKETS_PER_CUSTOMER_PER_EVENT: '1000',
    ...env,
  };
}

export async function startBenchStack(env: Record<string, string> = {}): Promise<BenchStack> {
  const stack = await startLocalStack({ profile: 'test', postgres: true, redis: true, log: () => {} });
  const sql = createPostgres({ url: stack.postgres!.url, poolMax: 4 });
  await migrateUp(sql);
  const config = loadConfig(benchEnv({ postgres: stack.postgres!.url, redis: stack.redis!.url }, env));
  return {
    stack,
    sql,
    config,
    async stop() {
      await sql.end({ timeout: 5 });
      await stack.stop();
    },
  };
}

/** `count` customers (plus an organizer first) with access tokens valid for an hour. */
export async function benchPeople(sql: Sql, config: Config, count: number): Promise<{ organizerId: string; tokens: string[] }> {
  const tag = randomUUID().slice(0, 8);
  const users = await sql<{ id: string }[]>`
    insert into users (email, role, email_verified_at)
    select ${`bench-${tag}-`} || n || '@example.com', case when n = 0 then 'organizer' else 'customer' end, now()
    from generate_series(0, ${count}) n returning id`;
  const signer = createAccessTokens({ secret: config.auth.jwtSecret, issuer: TOKEN_ISSUER, audience: TOKEN_AUDIENCE, ttlSeconds: 3600 });
  const tokens = await Promise.all(users.slice(1).map(async (u) => (await signer.sign({ userId: u.id, sessionId: randomUUID(), role: 'customer' })).token));
  return { organizerId: users[0]!.id, tokens };
}

/** A published event on sale now with `capacity` tickets: general admission, or that many seats. */
export async function benchEvent(
  sql: Sql,
  organizerId: string,
  capacity: number,
  kind: 'general' | 'seated' = 'general',
): Promise<{ eventId: string; ticketTypeId: string; seatIds: string[] }> {
  const [event] = await sql<{ id: string }[]>`
    insert into events (organizer_id, slug, title, timezone, starts_at, ends_at, sales_start_at, sales_end_at, status, published_at)
    values (${organizerId}, ${`bench-${randomUUID().slice(0, 8)}`}, 'Benchmark', 'UTC', now() + interval '30 days', now() + interval '31 days',
            now() - interval '1 minute', now() + interval '29 days', 'published', now()) returning id`;
  const [type] = await sql<{ id: string }[]>`
    insert into ticket_types (event_id, name, kind, price_minor, currency, capacity)
    values (${event!.id}, ${kind === 'general' ? 'Standing' : 'Seated'}, ${kind}, 4500, 'EUR', ${capacity}) returning id`;
  const seats =
    kind === 'seated'
      ? await sql<{ id: string }[]>`
          insert into seats (event_id, ticket_type_id, section, row_label, seat_number)
          select ${event!.id}, ${type!.id}, 'Stalls', 'R' || ((n - 1) / 50 + 1), ((n - 1) % 50 + 1)::text from generate_series(1, ${capacity}) n
          returning id::text`
      : [];
  return { eventId: event!.id, ticketTypeId: type!.id, seatIds: seats.map((s) => s.id) };
}
