export { createLogger, loggerOptions, REDACTED_PATHS, type Logger, type LogSettings } from './logger.ts';
export { registerHealthRoutes, type HealthDeps, type ReadinessCheck } from './health.ts';
export { readinessChecks } from './readiness.ts';
export { createMetrics, type Metrics, type MetricSources } from './metrics.ts';
export { METRICS_PATH, registerMetricsRoute, startMetricsServer, type MetricsServer } from './metrics-endpoint.ts';
