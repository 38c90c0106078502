// Once per test run: a throwaway local PostgreSQL and Redis (or TEST_DATABASE_URL / TEST_REDIS_URL
// when a CI provides services), and a migrated template database that test files clone.
import type { TestProject } from 'vitest/node';
import { buildWebClient } from '../server/cli/build-web.ts';
import { startLocalStack } from '../server/local/index.ts';
import { createPostgres, migrateUp, quoteIdent } from '../server/store/index.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Maintenance-database URL of a server where tests may create and drop databases. */
    pgAdminUrl: string;
    /** A migrated database to clone with CREATE DATABASE ... TEMPLATE. */
    pgTemplate: string;
    redisUrl: string;
  }
}

export const TEMPLATE_DATABASE = 'boxoffice_template';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = {
    postgres: process.env['TEST_DATABASE_URL'],
    redis: process.env['TEST_REDIS_URL'],
  };
  const stack = await startLocalStack({
    profile: 'test',
    postgres: !external.postgres,
    redis: !external.redis,
    log: () => {},
  });
  const pgAdminUrl = external.postgres ?? stack.postgres!.adminUrl;
  const redisUrl = external.redis ?? stack.redis!.url;

  // A fresh template each run, so a changed migration is always what the tests see.
  const admin = createPostgres({ url: pgAdminUrl, poolMax: 1, applicationName: 'boxoffice-test-setup' });
  try {
    await admin.unsafe(`drop database if exists ${quoteIdent(TEMPLATE_DATABASE)} with (force)`);
    await admin.unsafe(`create database ${quoteIdent(TEMPLATE_DATABASE)}`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  const templateUrl = new URL(pgAdminUrl);
  templateUrl.pathname = `/${TEMPLATE_DATABASE}`;
  const template = createPostgres({ url: templateUrl.toString(), poolMax: 1 });
  try {
    await migrateUp(template);
  } finally {
    await template.end({ timeout: 5 });
  }

  // The web client the browser tests load, built once here: test files run in parallel, and each
  // building it would empty the folder another file's server is serving.
  await buildWebClient();

  project.provide('pgAdminUrl', pgAdminUrl);
  project.provide('pgTemplate', TEMPLATE_DATABASE);
  project.provide('redisUrl', redisUrl);
  return async () => {
    await stack.stop();
  };
}
