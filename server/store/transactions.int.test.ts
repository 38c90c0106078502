// Transactions under a saturated pool: postgres.js 3.4.9 can send BEGIN on a connection it did
// not reserve when the pipeline is full (see withSafeTransactions). With busy connections, a tiny
// pipeline and transactions racing plain queries, every transaction must commit or roll back on
// its own connection, and no plain query may ever run inside someone's transaction. The driver's
// race is timing-dependent and this does not provoke it every time; the 300-request seat spike in
// test/purchases hit it (a 500) before the fix.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/databases.ts';
import { createPostgres, type Sql } from './postgres.ts';

describe('transactions on a saturated pool', () => {
  let db: TestDatabase;
  let sql: Sql;

  beforeAll(async () => {
    db = await createTestDatabase({ migrated: false });
    sql = createPostgres({ url: db.url, poolMax: 3, maxPipeline: 2 });
    await sql`create table counter (id int primary key, n int not null)`;
    await sql`insert into counter values (1, 0)`;
  });
  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await db?.drop();
  });

  it('keeps every transaction on its own connection while plain queries pile up', async () => {
    for (let round = 0; round < 10; round++) {
      const busy = Array.from({ length: 3 }, () => sql`select pg_sleep(0.05)`);
      // Each transaction marks itself (a transaction-local setting): a plain query that landed
      // inside one would see the mark.
      const plain = Array.from({ length: 6 }, () => sql<{ outside: boolean }[]>`select coalesce(current_setting('boxoffice.tx', true), '') = '' as outside`);
      const transactions = Array.from({ length: 5 }, (_, i) =>
        sql.begin(async (tx) => {
          await tx`select set_config('boxoffice.tx', 'yes', true)`;
          await tx`update counter set n = n + 1 where id = 1`;
          if (i === 4) throw new Error('rolled back on purpose');
          return i;
        }),
      );
      const settled = await Promise.allSettled([...busy, ...plain, ...transactions]);
      const failures = settled.filter((s) => s.status === 'rejected').map((s) => String((s).reason));
      expect(failures).toEqual(['Error: rolled back on purpose']);
      for (const p of await Promise.all(plain)) expect(p[0]!.outside).toBe(true);
    }
    const [row] = await sql<{ n: number }[]>`select n from counter where id = 1`;
    expect(row!.n).toBe(40);
    const [open] = await sql<{ n: number }[]>`
      select count(*)::int as n from pg_stat_activity where datname = current_database() and state = 'idle in transaction'`;
    expect(open!.n).toBe(0);
  });
});

// postgres.js 3.4.9 crashes the process (an uncaught TypeError from a deferred write) when a query
// is written on a reserved connection whose socket has closed, and a closed connection released
// back to the pool poisons it the same way (porsager/postgres#1208). PostgreSQL restarting does
// exactly that to every transaction in flight.
describe('a transaction whose backend goes away', () => {
  let db: TestDatabase;
  let sql: Sql;
  let admin: Sql;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  beforeAll(async () => {
    db = await createTestDatabase({ migrated: false });
    sql = createPostgres({ url: db.url, poolMax: 2, applicationName: 'boxoffice-doomed' });
    admin = createPostgres({ url: db.url, poolMax: 1 });
  });
  afterAll(async () => {
    await admin?.end({ timeout: 5 });
    await sql?.end({ timeout: 5 });
    await db?.drop();
  });

  const terminate = (pid: number) => admin`select pg_terminate_backend(${pid})`;

  /** What a statement on the closed connection fails with: the close, or the server's word that it ended the session. */
  const endedByTheClose = (err: unknown) => ['CONNECTION_CLOSED', '57P01', 'ECONNRESET'].includes(String((err as { code?: unknown }).code));

  const round = () => Promise.allSettled(Array.from({ length: 6 }, (_, i) => sql<{ n: number }[]>`select ${i}::int as n`));

  /**
   * The pool still serves: more queries at once than it has connections, so each connection serves
   * some. The driver keeps a terminated session's error (57P01) across the reconnect and fails the
   * first query there with it (a 503 to a client); after that every query must succeed.
   */
  async function poolServes(): Promise<void> {
    const first = await round();
    for (const failed of first.filter((r) => r.status === 'rejected')) expect(failed.reason).toMatchObject({ code: '57P01' });
    const second = await round();
    expect(second.map((r) => (r.status === 'fulfilled' ? r.value[0]!.n : String(r.reason)))).toEqual([0, 1, 2, 3, 4, 5]);
  }

  it('between statements: the next statement fails (catchable) and the pool goes on', async () => {
    const outcome = sql.begin(async (tx) => {
      const [me] = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`;
      await terminate(me!.pid);
      await sleep(300);
      await tx`select 1`;
    });
    await expect(outcome).rejects.toSatisfy(endedByTheClose);
    await poolServes();
  });

  it('during a statement: it fails, no rollback is written on the dead connection, and the pool goes on', async () => {
    const outcome = sql.begin(async (tx) => {
      const [me] = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`;
      const terminating = sleep(100).then(() => terminate(me!.pid));
      await Promise.all([tx`select pg_sleep(10)`, terminating]);
    });
    await expect(outcome).rejects.toSatisfy(endedByTheClose);
    await poolServes();
  });

  it('after its last statement, before commit: the commit fails and the pool goes on', async () => {
    const outcome = sql.begin(async (tx) => {
      const [me] = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`;
      await terminate(me!.pid);
      await sleep(300);
      return 'done';
    });
    await expect(outcome).rejects.toSatisfy(endedByTheClose);
    await poolServes();
  });
});
