// npm start: the whole system on one machine. Brings up local PostgreSQL and Redis when
// DATABASE_URL / REDIS_URL are unset, migrates, seeds the demo on-sale, builds the web client, serves, and on
// Ctrl-C / SIGTERM stops the server and everything it started.
import { ConfigError, loadConfig } from '../config.ts';
import { currentTelemetry } from '../observability/telemetry.ts';
import { startServer } from '../server.ts';
import { buildWebClient } from './build-web.ts';
import { cliLog, redactUrl, redisLine, resolveServiceUrls } from './local-env.ts';
import { migrateAndSeed } from './prepare-database.ts';

const { env, stop } = await resolveServiceUrls({ postgres: true, redis: true });
try {
  const config = loadConfig(env);
  await migrateAndSeed(config.postgres.url, 'boxoffice-start');
  await buildWebClient();
  cliLog.info('web client built');
  const { url } = await startServer(config, { afterClose: [{ name: 'local stack', run: stop }], telemetry: currentTelemetry() });
  const base = config.http.publicUrl.startsWith('http') ? config.http.publicUrl : url;
  const lines = [
    '',
    'boxoffice is up.',
    `  buyer's page   ${base}/`,
    `  API            ${base}/api/v1`,
    `  readiness      ${base}/health/ready`,
    ...(config.http.apiDocs ? [`  API docs       ${base}/docs`] : []),
    `  DATABASE_URL   ${redactUrl(config.postgres.url)}`,
    redisLine(env),
    'Press Ctrl-C to stop (local PostgreSQL and Redis stop with it).',
    '',
  ];
  process.stdout.write(lines.join('\n'));
} catch (err) {
  process.stderr.write(`${err instanceof ConfigError ? err.message : String((err as Error).stack ?? err)}\n`);
  await stop();
  process.exit(1);
}
