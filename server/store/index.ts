export { createPostgres, quoteIdent, type Sql, type TransactionSql } from './postgres.ts';
export { connectRedis, createRedis, type Redis } from './redis.ts';
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
