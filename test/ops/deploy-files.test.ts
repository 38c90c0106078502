// Guards the production setup: the image runs as a non-root user with a health check and no
// secrets, the compose file publishes only the API and keeps every password in env files, and
// Prometheus and the Grafana dashboard speak exactly the metric names the server exposes.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

/** Every boxoffice_* metric the server serves at /metrics (server/observability/metrics.ts). */
const BOXOFFICE_METRICS = [
  'boxoffice_holds_placed_total',
  'boxoffice_holds_rejected_total',
  'boxoffice_holds_expired_total',
  'boxoffice_purchases_confirmed_total',
  'boxoffice_refunds_total',
  'boxoffice_oversell_stopped_total',
  'boxoffice_purchase_transitions_total',
  'boxoffice_live_holds',
  'boxoffice_watchers_connected',
  'boxoffice_broadcast_lag_seconds',
  'boxoffice_scanner_validations_total',
  'boxoffice_queue_jobs',
  'boxoffice_queue_failures_total',
  'boxoffice_http_request_duration_seconds',
  'boxoffice_paid_without_ticket_or_refund',
  'boxoffice_waiting_room_waiting',
  'boxoffice_waiting_room_admitted_total',
  'boxoffice_waiting_room_expired_without_hold_total',
  'boxoffice_store_clock_offset_seconds',
] as const;

/** Long-running services (not the one-shot migration). */
const LONG_RUNNING = ['app', 'postgres', 'redis', 'prometheus', 'grafana'];

interface Service {
  image?: string;
  command?: unknown;
  ports?: (string | { published?: string | number; target?: number; host_ip?: string })[];
  environment?: Record<string, string | number | boolean | null> | string[];
  env_file?: string | string[];
  healthcheck?: { test?: unknown };
  deploy?: { resources?: { limits?: { cpus?: unknown; memory?: unknown } } };
  depends_on?: Record<string, { condition?: string }>;
  restart?: string;
  read_only?: boolean;
  stop_grace_period?: string;
  profiles?: string[];
}

interface Compose {
  services: Record<string, Service>;
}

/** Metric names a PromQL expression mentions, histogram series folded into their metric. */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/boxoffice_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ''));
}

/** Seconds of a compose duration such as "30s", "1m30s" or "500ms". */
function seconds(duration: string): number {
  let total = 0;
  for (const [, n, unit] of duration.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(n) * { ms: 0.001, s: 1, m: 60, h: 3600 }[unit as 'ms' | 's' | 'm' | 'h'];
  }
  return total;
}

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function instructions(dockerfile: string): { op: string; args: string }[] {
  return dockerfile
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [op = '', ...rest] = line.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

describe('Dockerfile', () => {
  const steps = instructions(read('Dockerfile'));
  const finalStage = steps.slice(steps.map((s) => s.op).lastIndexOf('FROM'));

  it('builds in stages from the slim Node 20 image', () => {
    const froms = steps.filter((s) => s.op === 'FROM');
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(read('Dockerfile')).toContain('node:20-bookworm-slim');
  });

  it('installs with npm ci, production dependencies only in the runtime', () => {
    const runs = steps.filter((s) => s.op === 'RUN').map((s) => s.args);
    expect(runs.some((r) => /npm ci\b.*--no-audit/.test(r) && !r.includes('--omit=dev'))).toBe(true);
    expect(runs.some((r) => /npm ci\b.*--omit=dev/.test(r))).toBe(true);
    expect(runs.some((r) => r.includes('npm run build'))).toBe(true);
  });

  it('runs the final stage as a non-root user in production mode', () => {
    const users = finalStage.filter((s) => s.op === 'USER');
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)!.args).not.toMatch(/^(root|0)(:|$)/);
    expect(finalStage.some((s) => s.op === 'ENV' && /NODE_ENV=production/.test(s.args))).toBe(true);
  });

  it('checks readiness without curl and exposes the API and metrics ports', () => {
    const healthcheck = finalStage.find((s) => s.op === 'HEALTHCHECK');
    expect(healthcheck?.args).toMatch(/fetch\(/);
    expect(healthcheck?.args).toContain('/health/ready');
    const exposed = finalStage.filter((s) => s.op === 'EXPOSE').flatMap((s) => s.args.split(/\s+/));
    expect(exposed).toEqual(expect.arrayContaining(['3000', '9464']));
  });

  it('starts node with the telemetry import before server/main.ts', () => {
    const cmd = finalStage.filter((s) => s.op === 'CMD').at(-1);
    expect(cmd).toBeDefined();
    const argv = JSON.parse(cmd!.args) as string[];
    expect(argv[0]).toBe('node');
    const instrument = argv.indexOf('./server/observability/instrument.ts');
    expect(instrument).toBeGreaterThan(0);
    expect(argv[instrument - 1]).toBe('--import');
    expect(argv.at(-1)).toBe('server/main.ts');
  });

  it('never copies env files, tests or the whole context into the image', () => {
    const copies = steps.filter((s) => s.op === 'COPY' || s.op === 'ADD').map((s) => s.args);
    for (const copy of copies) {
      expect(copy).not.toMatch(/\.env\b/);
      expect(copy).not.toMatch(/(^|\s)test\b/);
      expect(copy).not.toMatch(/^(--\S+\s+)*\.\s+\.\/?$/);
    }
  });
});

describe('.dockerignore', () => {
  const patterns = read('.dockerignore')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));

  it('keeps secrets, dependencies and local data out of the build context', () => {
    expect(patterns).toEqual(expect.arrayContaining(['.env', '.env.*', '!.env.example', 'node_modules', '.data', '.git']));
  });
});

describe('docker-compose.prod.yml', () => {
  const compose = parse(read('docker-compose.prod.yml')) as Compose;
  const services = compose.services;

  it('has the server, its migration, the stores and the monitoring profile', () => {
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['migrate', 'app', 'postgres', 'redis', 'prometheus', 'grafana']));
    expect(services['prometheus']!.profiles).toContain('monitoring');
    expect(services['grafana']!.profiles).toContain('monitoring');
  });

  it('publishes only the API to the world; stores publish nothing', () => {
    expect(services['postgres']!.ports).toBeUndefined();
    expect(services['redis']!.ports).toBeUndefined();
    for (const [name, service] of Object.entries(services)) {
      for (const port of service.ports ?? []) {
        const text = typeof port === 'string' ? port : `${port.host_ip ?? ''}:${port.published ?? ''}:${port.target ?? ''}`;
        if (name === 'app') {
          expect(text).not.toMatch(/9464/);
        } else {
          // Operator UIs are reachable from this host only.
          expect(text, `${name} publishes ${text}`).toMatch(/^127\.0\.0\.1:/);
        }
      }
    }
    expect(services['app']!.ports?.map(String)).toEqual(['3000:3000']);
  });

  it('gives every long-running service a health check and resource limits', () => {
    for (const name of LONG_RUNNING) {
      const service = services[name]!;
      expect(service.healthcheck?.test, `${name} healthcheck`).toBeDefined();
      expect(service.deploy?.resources?.limits?.memory, `${name} memory limit`).toBeDefined();
      expect(service.deploy?.resources?.limits?.cpus, `${name} cpu limit`).toBeDefined();
    }
  });

  it('keeps Redis durable and unevicted', () => {
    const command = JSON.stringify(services['redis']!.command);
    expect(command).toContain('--appendonly yes');
    expect(command).toContain('--maxmemory-policy noeviction');
    expect(command).toContain('--requirepass');
    expect(services['redis']!.image).toMatch(/^redis:7/);
    expect(services['postgres']!.image).toMatch(/^postgres:1[5-9]/);
  });

  it('migrates once, before the servers start', () => {
    const migrate = services['migrate']!;
    expect(migrate.restart).toBe('no');
    expect(JSON.stringify(migrate.command)).toContain('server/cli/migrate.ts');
    const app = services['app']!;
    expect(app.depends_on?.['migrate']?.condition).toBe('service_completed_successfully');
    expect(app.depends_on?.['postgres']?.condition).toBe('service_healthy');
    expect(app.depends_on?.['redis']?.condition).toBe('service_healthy');
  });

  it('gives the server more time to stop than its own shutdown deadline', () => {
    const app = services['app']!;
    const shutdownMs = Number(/^SHUTDOWN_TIMEOUT_MS=(\d+)/m.exec(read('.env.example'))?.[1] ?? 10_000);
    expect(seconds(app.stop_grace_period ?? '10s')).toBeGreaterThan(shutdownMs / 1000);
    expect(app.read_only).toBe(true);
  });

  it('keeps every secret out of the file: env files, or ${VAR} and *_FILE references', () => {
    for (const [name, service] of Object.entries(services)) {
      const env = service.environment ?? {};
      const entries: [string, string | number | boolean | null | undefined][] = Array.isArray(env)
        ? env.map((line) => {
            const [key = '', ...value] = line.split('=');
            return [key, value.length ? value.join('=') : undefined];
          })
        : Object.entries(env);
      for (const [key, value] of entries) {
        if (!/PASSWORD|SECRET|TOKEN|KEY|DSN/.test(key) || key.endsWith('_FILE')) continue;
        if (value === undefined || value === null) continue;
        expect(String(value), `${name}.${key}`).toMatch(/^\$\{[A-Z0-9_]+(:?[-?][^}]*)?\}$/);
      }
    }
    for (const name of ['migrate', 'app', 'postgres', 'redis', 'grafana']) {
      expect(services[name]!.env_file, `${name} env_file`).toBeDefined();
    }
    // No credentials inside URLs written into the file either.
    expect(read('docker-compose.prod.yml')).not.toMatch(/\/\/[^/\s:@]+:[^@\s$]+@/);
  });
});

describe('Prometheus', () => {
  const config = parse(read('deploy/prometheus/prometheus.yml')) as {
    global?: { scrape_interval?: string };
    rule_files?: string[];
    scrape_configs: {
      job_name: string;
      scrape_interval?: string;
      static_configs?: { targets: string[] }[];
      dns_sd_configs?: { names: string[]; port?: number }[];
    }[];
  };

  it('scrapes every app node on the metrics port every 15 s', () => {
    const job = config.scrape_configs.find((c) => c.job_name === 'boxoffice');
    expect(job).toBeDefined();
    const targets = [
      ...(job!.static_configs ?? []).flatMap((c) => c.targets),
      ...(job!.dns_sd_configs ?? []).flatMap((c) => c.names.map((n) => `${n}:${c.port ?? ''}`)),
    ];
    expect(targets).toContain('app:9464');
    expect(job!.scrape_interval ?? config.global?.scrape_interval).toBe('15s');
  });

  it('loads alert rules over the metrics the server exposes', () => {
    expect(config.rule_files).toContain('alerts.yml');
    const rules = parse(read('deploy/prometheus/alerts.yml')) as { groups: { rules: { alert: string; expr: string }[] }[] };
    const all = rules.groups.flatMap((g) => g.rules);
    expect(all.length).toBeGreaterThan(5);
    const used = new Set(all.flatMap((r) => metricNames(r.expr)));
    for (const name of used) expect(BOXOFFICE_METRICS, `alerts use ${name}`).toContain(name);
    for (const name of ['boxoffice_paid_without_ticket_or_refund', 'boxoffice_oversell_stopped_total', 'boxoffice_queue_failures_total', 'boxoffice_broadcast_lag_seconds']) {
      expect(used, `an alert on ${name}`).toContain(name);
    }
    expect(all.some((r) => /\bup\b.*== 0/.test(r.expr))).toBe(true);
  });
});

describe('Grafana dashboard', () => {
  interface Panel {
    type: string;
    title: string;
    targets?: { expr?: string }[];
    panels?: Panel[];
    fieldConfig?: { defaults?: { thresholds?: { steps?: { color: string; value: number | null }[] } } };
  }
  const dashboard = JSON.parse(read('deploy/grafana/dashboards/boxoffice.json')) as { uid?: string; schemaVersion?: number; panels: Panel[] };
  const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  const exprsOf = (panel: Panel) => (panel.targets ?? []).map((t) => t.expr ?? '');

  it('is provisioned under a fixed uid', () => {
    expect(dashboard.uid).toBe('boxoffice');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const provider = parse(read('deploy/grafana/provisioning/dashboards/boxoffice.yml')) as { providers: { options: { path: string } }[] };
    expect(provider.providers[0]?.options.path).toBeTruthy();
    const datasources = parse(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as { datasources: { type: string; url: string }[] };
    expect(datasources.datasources[0]).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
  });

  it('queries only metrics the server exposes', () => {
    for (const panel of panels) {
      for (const name of exprsOf(panel).flatMap(metricNames)) {
        expect(BOXOFFICE_METRICS, `panel "${panel.title}" uses ${name}`).toContain(name);
      }
    }
  });

  it('shows every boxoffice metric in at least one panel', () => {
    const shown = new Set(panels.flatMap((p) => exprsOf(p).flatMap(metricNames)));
    for (const name of BOXOFFICE_METRICS) expect(shown, `no panel shows ${name}`).toContain(name);
  });

  it('has a stat panel for paid-without-ticket-or-refund that turns red above 0', () => {
    const stat = panels.find((p) => p.type === 'stat' && exprsOf(p).some((e) => e.includes('boxoffice_paid_without_ticket_or_refund')));
    expect(stat).toBeDefined();
    const steps = stat!.fieldConfig?.defaults?.thresholds?.steps ?? [];
    expect(steps.find((s) => s.value === null)?.color).toBe('green');
    expect(steps.some((s) => s.color === 'red' && s.value !== null && s.value > 0 && s.value <= 1)).toBe(true);
  });
});
