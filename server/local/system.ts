// Small process helpers for the local development stack: run a command (optionally as another
// user), find a binary, pick a free loopback port.
import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';

export interface RunOptions {
  /** Run as this system user (root only), through runuser. */
  asUser?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Where to send the command's output; collected for errors when absent. */
  onOutput?: (chunk: string) => void;
}

export class CommandError extends Error {
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  const [cmd, argv] = options.asUser ? ['runuser', ['-u', options.asUser, '--', command, ...args]] : [command, args];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer) => {
      const text = chunk.toString();
      output += text;
      options.onOutput?.(text);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', (err) => reject(new CommandError(`${command}: ${err.message}`, output)));
    child.on('close', (code) => {
      if (code === 0) resolve(output);
      else reject(new CommandError(`${command} ${args.join(' ')} exited with ${code}:\n${output.trim()}`, output));
    });
  });
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** First executable named `name` on PATH or in `extraDirs`. */
export async function findBinary(name: string, extraDirs: readonly string[] = []): Promise<string | null> {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean), ...extraDirs];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return null;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** apt-get, when we may install Debian packages with it (root on a Debian-like system); else null. */
export async function aptGetIfRoot(): Promise<string | null> {
  const apt = await findBinary('apt-get');
  return isRoot() && apt ? apt : null;
}

/** Installs Debian packages (no recommends, non-interactive) with the apt-get `aptGetIfRoot` found. */
export async function aptInstall(apt: string, packages: readonly string[]): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run(apt, ['update', '-qq'], { env });
  await run(apt, ['install', '-y', '-qq', '--no-install-recommends', ...packages], { env });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
