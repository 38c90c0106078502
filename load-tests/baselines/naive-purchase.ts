// The naive purchase path: the baseline the on-sale load test compares boxoffice's hold path with.
// What a straightforward implementation does — one transaction per purchase that locks the ticket
// type row (SELECT ... FOR UPDATE), checks and decrements what is left, and inserts the purchase —
// kept honest: the same HTTP framework (Fastify), the same JSON body and its schema, the same
// bearer-token check (the JWT verified by the same code, then the session looked up in the Redis
// revocation list), the same PostgreSQL driver and pool size, and tables of its own.
//
// Runs as a server node: node --import tsx load-tests/baselines/naive-purchase.ts, with the
// environment of a boxoffice node (DATABASE_URL, REDIS_URL, JWT_SECRET, PORT, DATABASE_POOL_MAX).
// Its tables: ./naive-tables.ts.
import Fastify from 'fastify';
import { loadConfig } from '../../server/config.ts';
import { createAccessTokens, TOKEN_AUDIENCE, TOKEN_ISSUER } from '../../server/identity/index.ts';
import { createRevocations } from '../../server/identity/revocation.ts';
import { purchaseRequestSchema } from '../../server/purchases/checkout.ts';
import { connectRedis, createPostgres, createRedis } from '../../server/store/index.ts';
import { createNaiveTables } from './naive-tables.ts';

type Outcome = { status: 200 | 201; id: string } | { status: 404 | 409; reason: string };

async function main(): Promise<void> {
  const config = loadConfig();
  const sql = createPostgres({ url: config.postgres.url, poolMax: config.postgres.poolMax, applicationName: 'naive-purchase' });
  const redis = await connectRedis(createRedis({ url: config.redis.url, name: 'naive-purchase' }));
  await createNaiveTables(sql);
  const tokens = createAccessTokens({ secret: config.auth.jwtSecret, issuer: TOKEN_ISSUER, audience: TOKEN_AUDIENCE, ttlSeconds: config.auth.accessTokenTtlSeconds });
  const revocations = createRevocations(redis, { keyPrefix: config.redis.keyPrefix, accessTtlSeconds: config.auth.accessTokenTtlSeconds });
  const fail = (code: string, message: string, details: Record<string, unknown> = {}) => ({ error: { code, message, details } });

  const app = Fastify({ logger: false, bodyLimit: config.http.bodyLimitBytes });
  app.get('/health', () => ({ ok: true }));
  app.post('/api/v1/purchases', async (request, reply) => {
    const bearer = /^Bearer ([A-Za-z0-9._~+/=-]{1,4096})$/.exec(request.headers.authorization ?? '');
    const claims = bearer ? await tokens.verify(bearer[1]!).catch(() => null) : null;
    if (!claims || (await revocations.isRevoked(claims.sid))) return reply.code(401).send(fail('unauthorized', 'sign in'));
    const key = request.headers['idempotency-key'];
    const body = purchaseRequestSchema.safeParse(request.body);
    if (typeof key !== 'string' || key.length < 8 || !body.success) return reply.code(400).send(fail('validation_failed', 'the request is invalid'));
    const item = body.data.items[0]!;
    const seatId = item.seatIds?.[0] ?? null;
    const quantity = item.seatIds?.length ?? item.quantity ?? 1;
    const outcome = await sql.begin(async (tx): Promise<Outcome> => {
      const [earlier] = await tx<{ id: string }[]>`select id from naive_purchases where customer_id = ${claims.sub} and idempotency_key = ${key}`;
      if (earlier) return { status: 200, id: earlier.id };
      const [type] = await tx<{ capacity: number; sold: number }[]>`
        select capacity, sold from naive_ticket_types where id = ${item.ticketTypeId} and event_id = ${body.data.eventId} for update`;
      if (!type) return { status: 404, reason: 'not_found' };
      if (type.capacity - type.sold < quantity) return { status: 409, reason: 'sold_out' };
      if (seatId) {
        const [taken] = await tx`select 1 from naive_purchases where ticket_type_id = ${item.ticketTypeId} and seat_id = ${seatId}`;
        if (taken) return { status: 409, reason: 'seat_taken' };
      }
      await tx`update naive_ticket_types set sold = sold + ${quantity} where id = ${item.ticketTypeId}`;
      const [created] = await tx<{ id: string }[]>`
        insert into naive_purchases (ticket_type_id, customer_id, quantity, seat_id, idempotency_key)
        values (${item.ticketTypeId}, ${claims.sub}, ${quantity}, ${seatId}, ${key}) returning id`;
      return { status: 201, id: created!.id };
    });
    if ('id' in outcome) return reply.code(outcome.status).send({ id: outcome.id, state: 'held' });
    return reply.code(outcome.status).send(fail(outcome.status === 404 ? 'not_found' : 'conflict', outcome.reason, { reason: outcome.reason }));
  });

  await app.listen({ host: config.http.host, port: config.http.port });
  const stop = () => {
    void app
      .close()
      .then(() => sql.end({ timeout: 5 }))
      .then(() => redis.quit())
      .finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

await main();
