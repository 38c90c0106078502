// Real processes for tests: a script of this repository run under tsx with a clean environment,
// and a wait for a URL to answer 200.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Spawned {
  exit: Promise<number | null>;
  output: () => string;
  kill: (signal: NodeJS.Signals) => void;
}

/** The server starts as in production: OpenTelemetry first (see the Dockerfile and npm run serve). */
const PRELOADS: Record<string, string[]> = { 'server/main.ts': ['--import', './server/observability/instrument.ts'] };

export function spawnScript(script: string, args: string[], env: Record<string, string>): Spawned {
  const child = spawn(process.execPath, ['--import', 'tsx', ...(PRELOADS[script] ?? []), script, ...args], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { exit, output: () => output, kill: (signal) => child.kill(signal) };
}

/** The environment of a node on `port` over a test database and Redis prefix (extra variables win). */
export function nodeEnv(
  db: { url: string },
  redis: { url: string; prefix: string },
  port: number,
  extra: Record<string, string> = {},
): Record<string, string> {
  return { DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_KEY_PREFIX: redis.prefix, HOST: '127.0.0.1', PORT: String(port), ...extra };
}

/** Polls `url` until it answers 200 (returns 200) or the process exits / 30 s pass (returns 0). */
export async function waitReady(url: string, exited: () => boolean): Promise<number> {
  for (let attempt = 0; attempt < 300 && !exited(); attempt++) {
    try {
      const res = await fetch(url);
      if (res.status === 200) return 200;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return 0;
}
