export { createStoreClock, fixedOffsetClock, type StoreClock, type StoreClockOptions } from './clock.ts';
export { createPostgres, quoteIdent, type Sql, type TransactionSql } from './postgres.ts';
export { checkRedis, connectRedis, createRedis, isCluster, type Redis, type RedisTarget } from './redis.ts';
export {
  DEFAULT_MIGRATIONS_DIR,
  migrateDown,
  migrateUp,
  migrationStatus,
  MigrationError,
  pendingMigrations,
  readMigrations,
  type MigrationFile,
  type MigrationStatus,
} from './migrations.ts';
