// The arguments of `npm run cluster`: how many nodes, from which loopback port, and whether to
// build the web client. Pure, so the usage rules are tested without starting anything.

export const CLUSTER_USAGE = 'usage: npm run cluster -- [--nodes N (1..16, default 2)] [--port BASE (default 3000)] [--no-build]';
export const MAX_NODES = 16;

export interface ClusterArgs {
  nodes: number;
  /** Node i (0-based) listens on basePort + i. */
  basePort: number;
  build: boolean;
}

export class UsageError extends Error {
  constructor(problem: string) {
    super(problem ? `${problem}\n${CLUSTER_USAGE}` : CLUSTER_USAGE);
    this.name = 'UsageError';
  }
}

function integerIn(flag: string, raw: string | undefined, min: number, max: number): number {
  if (raw === undefined || !/^\d+$/.test(raw)) throw new UsageError(`${flag} needs a whole number, got ${raw === undefined ? 'nothing' : `"${raw}"`}`);
  const value = Number(raw);
  if (value < min || value > max) throw new UsageError(`${flag} must be between ${min} and ${max}, got ${value}`);
  return value;
}

/** Parses `--nodes N`, `--port P` (also `--nodes=N`) and `--no-build`; throws UsageError otherwise. */
export function parseClusterArgs(argv: readonly string[]): ClusterArgs {
  const args: ClusterArgs = { nodes: 2, basePort: 3000, build: true };
  let nodesGiven: string | undefined;
  let portGiven: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (flag === '--no-build' && inline === undefined) args.build = false;
    else if (flag === '--nodes') nodesGiven = inline ?? argv[++i] ?? '';
    else if (flag === '--port') portGiven = inline ?? argv[++i] ?? '';
    else if (flag === '--help' || flag === '-h') throw new UsageError('');
    else throw new UsageError(`unknown argument "${arg}"`);
  }
  if (nodesGiven !== undefined) args.nodes = integerIn('--nodes', nodesGiven, 1, MAX_NODES);
  if (portGiven !== undefined) args.basePort = integerIn('--port', portGiven, 1, 65_535 - (args.nodes - 1));
  return args;
}
