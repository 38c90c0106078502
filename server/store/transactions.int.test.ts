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
