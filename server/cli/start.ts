// npm start: the whole system on one machine. Brings up local PostgreSQL and Redis when
// DATABASE_URL / REDIS_URL are unset, migrates, seeds the demo on-sale, builds the web client, serves, and on
// Ctrl-C / SIGTERM stops the server and everything it started.
import { seedDemo } from '../catalog/index.ts';
import { ConfigError, loadConfig } from '../config.ts';
import { currentTelemetry } from '../observability/telemetry.ts';
import { startServer } from '../server.ts';
import { createPostgres, migrateUp } from '../store/index.ts';
import { buildWebClient } from './build-web.ts';
import { cliLog, resolveServiceUrls } from './local-env.ts';

const { env, stop } = await resolveServiceUrls({ postgres: true, redis: true });
try {
  const config = loadConfig(env);
  const sql = createPostgres({ url: config.postgres.url, poolMax: 1, applicationName: 'boxoffice-start' });
  try {
    const applied = await migrateUp(sql);
    if (applied.length) cliLog.info({ applied }, 'migrations applied');
    const seed = await seedDemo(sql);
    cliLog.info({ slug: seed.slug }, seed.created ? 'demo on-sale seeded' : 'demo on-sale present');
  } finally {
    await sql.end({ timeout: 5 });
  }
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
    `  DATABASE_URL   ${redact(config.postgres.url)}`,
    `  REDIS_URL      ${redact(config.redis.url)}`,
    'Press Ctrl-C to stop (local PostgreSQL and Redis stop with it).',
    '',
  ];
  process.stdout.write(lines.join('\n'));
} catch (err) {
  process.stderr.write(`${err instanceof ConfigError ? err.message : String((err as Error).stack ?? err)}\n`);
  await stop();
  process.exit(1);
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@]*@/, '//$1:***@');
}
