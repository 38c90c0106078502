// Throwaway databases and Redis key spaces for integration tests: each test file gets its own
// database (cloned from the migrated template, or empty) and its own Redis key prefix, and drops
// them when done.
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { connectRedis, createPostgres, createRedis, isCluster, quoteIdent, type Redis, type RedisTarget, type Sql } from '../../server/store/index.ts';

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
  /** The one Redis (for a cluster: one of its nodes, for tools that speak to a single server). */
  url: string;
  /** What servers under test connect to: the one Redis, or a cluster. */
  target: RedisTarget;
  /** Unique per test file; everything the test writes lives under `<prefix>:`. */
  prefix: string;
  client: Redis;
  cleanup(): Promise<void>;
}

/** Deletes every key under `<prefix>:`; a cluster's keys are found master by master (SCAN sees one node). */
export async function deleteKeysUnder(client: Redis, prefix: string): Promise<void> {
  const servers = isCluster(client) ? client.nodes('master') : [client];
  for (const server of servers) {
    let cursor = '0';
    do {
      const [next, keys] = await server.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      // One key per command: the keys of one master lie in many cluster slots.
      await Promise.all(keys.map((key) => server.unlink(key)));
      cursor = next;
    } while (cursor !== '0');
  }
}

export async function createTestRedis(): Promise<TestRedis> {
  const url = inject('redisUrl');
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const client = await connectRedis(createRedis({ url, name: 'boxoffice-test' }));
  return {
    url,
    target: { kind: 'single', url },
    prefix,
    client,
    async cleanup() {
      await deleteKeysUnder(client, prefix);
      await client.quit();
    },
  };
}
