// Entry point of a production node: config -> stores -> app -> listen; shutdown on SIGTERM/SIGINT.
// Migrations are a separate step here (npm run migrate -- up); /health/ready reports them pending.
import { ConfigError, loadConfig } from './config.ts';
import { currentTelemetry } from './observability/telemetry.ts';
import { startServer } from './server.ts';

try {
  const config = loadConfig();
  await startServer(config, { telemetry: currentTelemetry() });
} catch (err) {
  process.stderr.write(`${err instanceof ConfigError ? err.message : String((err as Error).stack ?? err)}\n`);
  process.exit(1);
}
