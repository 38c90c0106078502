// The parent's side of the load-generator children (./worker.ts): fork one, send it work, wait
// (bounded) for the answer of a given type; a child that fails or exits rejects what waits on it.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stopChild, track } from './children.ts';
import type { FromWorker, ToWorker } from './worker.ts';

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));

export interface WorkerHandle {
  pid: number;
  send(message: ToWorker): void;
  next<T extends FromWorker['type']>(type: T, timeoutMs: number): Promise<Extract<FromWorker, { type: T }>>;
  stop(): Promise<void>;
}

export async function forkWorker(label: string): Promise<WorkerHandle> {
  const child = track(fork(WORKER, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const handle: WorkerHandle = {
    pid: child.pid ?? 0,
    send: (message) => void child.send(message),
    next(type, timeoutMs) {
      return new Promise((resolve, reject) => {
        const done = (err: Error | null, message?: FromWorker) => {
          clearTimeout(timer);
          child.off('message', onMessage);
          child.off('exit', onExit);
          if (err) reject(err);
          else resolve(message as Extract<FromWorker, { type: typeof type }>);
        };
        const onMessage = (message: FromWorker) => {
          if (message.type === type) done(null, message);
          else if (message.type === 'failed') done(new Error(`${label} failed: ${message.message}`));
        };
        const onExit = (code: number | null) => done(new Error(`${label} exited (${code}) while ${type} was awaited`));
        const timer = setTimeout(() => done(new Error(`${label}: no ${type} within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
        child.on('message', onMessage);
        child.once('exit', onExit);
      });
    },
    async stop() {
      if (child.connected) child.send({ type: 'stop' } satisfies ToWorker);
      await stopChild(child, 3_000);
    },
  };
  await handle.next('ready', 30_000);
  return handle;
}
