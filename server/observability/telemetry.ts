// OpenTelemetry for one process: the SDK, the instrumentations (HTTP, Fastify, ioredis) and where
// spans go. Started before anything else by instrument.ts (node --import), or by a test with its
// own span processor. Spans are recorded and exported only when OTEL_EXPORTER_OTLP_ENDPOINT names a
// collector; either way they get real trace ids, which log lines and stored transitions carry.
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  BatchSpanProcessor,
  NoopSpanProcessor,
  ParentBasedSampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SamplingResult,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';

/** Requests nobody needs a trace of (probes and scrapes). */
const UNTRACED_PATHS = ['/health/live', '/health/ready', '/metrics'];

/**
 * BullMQ's own upkeep (stall checks, lock renewals, polling, closing) would start a trace every few
 * seconds per worker; those roots are dropped. Jobs added and processed stay traced.
 */
const QUEUE_UPKEEP = new Set([
  'startStalledCheckTimer',
  'moveStalledJobsToWait',
  'extendLocks',
  'getNextJob',
  'promoteJobs',
  'trimEvents',
  'drain',
  'close',
  'pause',
  'resume',
  'clean',
  'rateLimit',
]);

/** Root sampling: no queue upkeep; of the rest, `ratio` of traces (children follow their parent). */
class RootSampler implements Sampler {
  private readonly ratio: Sampler;
  constructor(ratio: number) {
    this.ratio = new TraceIdRatioBasedSampler(ratio);
  }
  shouldSample(...args: Parameters<Sampler['shouldSample']>): SamplingResult {
    const spanName = args[2];
    if (QUEUE_UPKEEP.has(spanName.split(' ', 1)[0] ?? '')) return { decision: SamplingDecision.NOT_RECORD };
    return this.ratio.shouldSample(...args);
  }
  toString(): string {
    return `RootSampler{${this.ratio.toString()}}`;
  }
}

export interface TelemetryOptions {
  serviceName: string;
  serviceVersion: string;
  /** OTLP/HTTP collector base URL (the exporter appends /v1/traces); unset: spans stay here. */
  otlpEndpoint?: string;
  /** Replaces the exporter (tests pass an in-memory one). */
  spanProcessors?: SpanProcessor[];
  /** Share of new traces kept, 0..1 (default 1: every request and job). */
  sampleRatio?: number;
  /** Look up host/process resource attributes (off in tests: faster, fewer moving parts). */
  detectResources?: boolean;
}

export interface Telemetry {
  /** Sends every finished span now (before asserting on them, or before exiting). */
  flush(): Promise<void>;
  /** Flushes and stops; spans created afterwards go nowhere. */
  shutdown(): Promise<void>;
}

let running: Telemetry | null = null;

/** The telemetry this process started, if any. */
export function currentTelemetry(): Telemetry | null {
  return running;
}

function untraced(url: string | undefined): boolean {
  const path = (url ?? '').split('?')[0] ?? '';
  return UNTRACED_PATHS.includes(path);
}

export function startTelemetry(options: TelemetryOptions): Telemetry {
  if (running) return running;
  // An empty list would leave the SDK without a tracer provider (all-zero trace ids): same as none.
  const given = options.spanProcessors?.length ? options.spanProcessors : undefined;
  const exporting = given !== undefined || Boolean(options.otlpEndpoint);
  const spanProcessors = given ?? [
    options.otlpEndpoint ? new BatchSpanProcessor(new OTLPTraceExporter()) : new NoopSpanProcessor(),
  ];
  // With nowhere to send spans, none is recorded; their trace ids still exist and propagate (log
  // lines and stored transitions keep them) at a fraction of the cost of recording.
  const ratio = exporting ? (options.sampleRatio ?? 1) : 0;
  const sdk = new NodeSDK({
    serviceName: options.serviceName,
    resource: resourceFromAttributes({ 'service.version': options.serviceVersion }),
    ...(options.detectResources === false ? { autoDetectResources: false } : {}),
    spanProcessors,
    sampler: new ParentBasedSampler({ root: new RootSampler(ratio) }),
    // Metrics are served by /metrics (prom-client) and logs by pino: no OTLP readers for either.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => untraced(request.url),
      }),
      // The request span (with its route) only: one span per hook and handler adds little.
      new FastifyOtelInstrumentation({
        registerOnInitialization: true,
        instrumentHooks: false,
        instrumentHandler: false,
        ignorePaths: (route) => untraced(route.url),
      }),
      // Only inside a trace: the workers' blocking polls would otherwise each be a trace.
      new IORedisInstrumentation({ requireParentSpan: true }),
    ],
  });
  sdk.start();
  const processors = spanProcessors;
  const telemetry: Telemetry = {
    flush: async () => void (await Promise.all(processors.map((p) => p.forceFlush()))),
    shutdown: async () => {
      running = null;
      await sdk.shutdown();
    },
  };
  running = telemetry;
  return telemetry;
}
