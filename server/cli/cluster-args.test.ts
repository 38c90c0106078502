import { describe, expect, it } from 'vitest';
import { parseClusterArgs, UsageError } from './cluster-args.ts';

describe('cluster arguments', () => {
  it('defaults to two nodes from port 3000, building the web client', () => {
    expect(parseClusterArgs([])).toEqual({ nodes: 2, basePort: 3000, build: true });
  });

  it('takes --nodes, --port (also with =) and --no-build', () => {
    expect(parseClusterArgs(['--nodes', '3', '--port=4100', '--no-build'])).toEqual({ nodes: 3, basePort: 4100, build: false });
    expect(parseClusterArgs(['--nodes=16'])).toMatchObject({ nodes: 16 });
  });

  it.each([[['--nodes', '0']], [['--nodes', '17']], [['--nodes', '2.5']], [['--nodes', '-1']], [['--nodes']], [['--port', '65535', '--nodes', '2']], [['--what']]])(
    'refuses %j with the usage',
    (argv) => {
      expect(() => parseClusterArgs(argv)).toThrow(UsageError);
      expect(() => parseClusterArgs(argv)).toThrow(/usage: npm run cluster/);
    },
  );
});
