// Liveness (the process answers) and readiness (every dependency answers, migrations are current,
// and we are not shutting down). A failing check is named in the 503 body.
import type { App } from '../http/types.ts';
import { z } from 'zod';
import { AppError } from '../errors.ts';

export interface ReadinessCheck {
  name: string;
  /** Resolves when healthy; rejects with a short reason otherwise. */
  check: () => Promise<void>;
}

export interface HealthDeps {
  checks: readonly ReadinessCheck[];
  isShuttingDown: () => boolean;
  timeoutMs?: number;
}

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const okBody = z.object({ status: z.literal('ok'), checks: z.record(z.string(), z.string()).optional() });

export function registerHealthRoutes(app: App, deps: HealthDeps): void {
  const timeoutMs = deps.timeoutMs ?? 2_000;

  app.get('/health/live', { schema: { hide: true, response: { 200: okBody } } }, () => ({ status: 'ok' as const }));

  app.get('/health/ready', { schema: { hide: true, response: { 200: okBody } } }, async () => {
    if (deps.isShuttingDown()) throw new AppError('service_unavailable', 'shutting down', { checks: {} });
    const results = await Promise.all(
      deps.checks.map(async ({ name, check }) => {
        try {
          await withTimeout(check(), timeoutMs);
          return [name, 'ok'] as const;
        } catch (err) {
          return [name, `failed: ${(err as Error).message}`] as const;
        }
      }),
    );
    const checks = Object.fromEntries(results);
    const failing = results.filter(([, state]) => state !== 'ok').map(([name]) => name);
    if (failing.length > 0) throw new AppError('service_unavailable', `not ready: ${failing.join(', ')}`, { checks });
    return { status: 'ok' as const, checks };
  });
}
