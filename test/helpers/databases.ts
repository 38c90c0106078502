// Throwaway databases and Redis key spaces for integration tests: each test file gets its own
// database (cloned from the migrated template, or empty) and its own Redis key prefix, and drops
// them when done.
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { connectRedis, createPostgres, createRedis, quoteIdent, type Redis, type Sql } from '../../server/store/index.ts';

export interface TestDatabase {
  name: string;
  url: string;
  sql: Sql;
  drop(): Promise<void>;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function createTestDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const adminUrl = inject('pgAdminUrl');
  const name = `bo_test_${randomBytes(6).toString('hex')}`;
  const admin = createPostgres({ url: adminUrl, poolMax: 1, applicationName: 'boxoffice-test' });
  const template = options.migrated === false ? 'template0' : inject('pgTemplate');
  try {
    await admin.unsafe(`create database ${quoteIdent(name)} template ${quoteIdent(template)}`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  const url = withDatabase(adminUrl, name);
  const sql = createPostgres({ url, poolMax: 5, applicationName: 'boxoffice-test' });
  return {
    name,
    url,
    sql,
    async drop() {
      await sql.end({ timeout: 5 });
      const dropper = createPostgres({ url: adminUrl, poolMax: 1 });
      try {
        await dropper.unsafe(`drop database if exists ${quoteIdent(name)} with (force)`);
      } finally {
        await dropper.end({ timeout: 5 });
      }
    },
  };
}

export interface TestRedis {
  url: string;
  /** Unique per test file; everything the test writes lives under `<prefix>:`. */
  prefix: string;
  client: Redis;
  cleanup(): Promise<void>;
}

export async function createTestRedis(): Promise<TestRedis> {
  const url = inject('redisUrl');
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const client = await connectRedis(createRedis({ url, name: 'boxoffice-test' }));
  return {
    url,
    prefix,
    client,
    async cleanup() {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
        if (keys.length) await client.del(...keys);
        cursor = next;
      } while (cursor !== '0');
      await client.quit();
    },
  };
}
