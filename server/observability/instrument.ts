// Loaded before the application (`node --import tsx --import ./server/observability/instrument.ts
// server/main.ts`; npm run serve does this): installs the module hooks the instrumentations need
// for ES modules, then starts OpenTelemetry, so http, fastify and ioredis are instrumented when the
// application imports them. Configured from the standard OTEL_* variables (see .env.example);
// OTEL_SDK_DISABLED=true turns it all off.
import { readFileSync } from 'node:fs';
import { register } from 'node:module';
import { createAddHookMessageChannel } from 'import-in-the-middle';
import { startTelemetry } from './telemetry.ts';

if (process.env['OTEL_SDK_DISABLED'] !== 'true') {
  // Only modules an instrumentation asks for are hooked (not every import of the process).
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);

  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  const endpoint = process.env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] ?? process.env['OTEL_EXPORTER_OTLP_ENDPOINT'];
  const ratio = Number(process.env['OTEL_TRACES_SAMPLER_ARG'] ?? '1');
  startTelemetry({
    sampleRatio: Number.isFinite(ratio) && ratio >= 0 && ratio <= 1 ? ratio : 1,
    serviceName: process.env['OTEL_SERVICE_NAME'] ?? 'boxoffice',
    serviceVersion: version,
    ...(endpoint ? { otlpEndpoint: endpoint } : {}),
  });
  await waitForAllMessagesAcknowledged();
}
