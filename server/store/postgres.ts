// The Postgres pool (postgres.js). One per process; capabilities receive it, never create their own.
import postgres from 'postgres';

export type Sql = postgres.Sql;
export type TransactionSql = postgres.TransactionSql;

export interface PostgresOptions {
  url: string;
  poolMax?: number;
  applicationName?: string;
}

export function createPostgres(options: PostgresOptions): Sql {
  return postgres(options.url, {
    max: options.poolMax ?? 10,
    onnotice: () => {},
    idle_timeout: 60,
    connect_timeout: 10,
    connection: { application_name: options.applicationName ?? 'boxoffice' },
  });
}

/** Quotes an identifier for the few statements that cannot take parameters (CREATE DATABASE ...). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
