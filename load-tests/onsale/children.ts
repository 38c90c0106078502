// Every child process the run starts (server nodes, baseline nodes, load-generator workers), so
// that whatever ends the run — success, an error, Ctrl-C, the hard timeout — ends them too.
import type { ChildProcess } from 'node:child_process';

const children = new Set<ChildProcess>();

export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Asks each child still running to stop, then kills what is left after `graceMs`. */
export async function stopAll(graceMs: number): Promise<void> {
  const running = [...children].filter((c) => c.exitCode === null && c.signalCode === null);
  await Promise.all(running.map((child) => stopChild(child, graceMs)));
}

export function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

// Last resort: the parent is exiting (even through process.exit) — nothing of ours outlives it.
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
