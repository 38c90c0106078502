// Nodes whose clocks are off: libfaketime, preloaded into a node's process, moves its wall clock
// (Date.now, the Date header, log times) by a fixed number of seconds while monotonic time stays
// true, so its timers still run at the right pace. Installed with apt-get when it is missing and
// we are root on Debian (as CI is); anywhere else the scenario says what to install.
import { existsSync } from 'node:fs';
import { aptGetIfRoot, aptInstall } from '../../server/local/system.ts';

const PACKAGE = 'libfaketime';
/** Debian's multiarch folder per Node architecture. */
const MULTIARCH: Partial<Record<NodeJS.Architecture, string>> = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

function installedLibrary(): string | null {
  const arch = MULTIARCH[process.arch];
  const dirs = [...(arch ? [`/usr/lib/${arch}/faketime`] : []), '/usr/lib/faketime', '/usr/local/lib/faketime'];
  // The multi-threaded variant: node runs threads (libuv's pool, V8's) that read the clock too.
  return dirs.map((dir) => `${dir}/libfaketimeMT.so.1`).find((path) => existsSync(path)) ?? null;
}

/** The path of libfaketimeMT, installed first when missing (root on Debian). */
export async function faketimeLibrary(): Promise<string> {
  const found = installedLibrary();
  if (found) return found;
  const apt = await aptGetIfRoot();
  if (!apt) throw new Error(`libfaketime is missing: install it (Debian: apt-get install --no-install-recommends ${PACKAGE})`);
  await aptInstall(apt, [PACKAGE]);
  const installed = installedLibrary();
  if (!installed) throw new Error(`apt-get installed ${PACKAGE} but libfaketimeMT.so.1 is not where it should be`);
  return installed;
}

/** A node's extra environment for a wall clock `seconds` ahead (negative: behind); none for 0. */
export function skewedClockEnv(library: string, seconds: number): Record<string, string> {
  if (seconds === 0) return {};
  return {
    LD_PRELOAD: library,
    FAKETIME: `${seconds > 0 ? '+' : '-'}${Math.abs(seconds)}s`,
    FAKETIME_DONT_FAKE_MONOTONIC: '1',
  };
}
