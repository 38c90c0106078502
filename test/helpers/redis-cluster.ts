// A throwaway Redis Cluster for tests: N masters (no replicas) on free loopback ports, each with its
// own folder, password and AOF, the hash slots split evenly between them; and a TestRedis over it,
// whose clean-up visits every master. The shared test Redis is a single server: this is how tests
// see that every key a node uses is cluster-safe.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cluster } from 'ioredis';
import { redisServerBinary } from '../../server/local/redis.ts';
import { freePort, sleep } from '../../server/local/system.ts';
import { connectRedis, createRedis } from '../../server/store/index.ts';
import { deleteKeysUnder, type TestRedis } from './databases.ts';

const SLOTS = 16_384;
const READY_TIMEOUT_MS = 20_000;

export interface LocalRedisCluster {
  /** One URL per master, password included: the seed nodes to give REDIS_CLUSTER_NODES. */
  nodes: string[];
  stop(): Promise<void>;
}

interface ClusterNode {
  port: number;
  busPort: number;
  url: string;
  process: ChildProcess;
  exited: Promise<void>;
}

/** A free loopback port not handed out yet in this cluster (client and bus ports of every node differ). */
async function unusedPort(used: Set<number>): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (!used.has(port)) return used.add(port), port;
  }
}

async function startNode(binary: string, root: string, index: number, password: string, used: Set<number>): Promise<ClusterNode> {
  const port = await unusedPort(used);
  const busPort = await unusedPort(used);
  const dir = join(root, `node-${index}`);
  await mkdir(dir, { mode: 0o700 });
  // A config file (not argv) so the password stays out of the process list.
  const conf = [
    `port ${port}`, `cluster-port ${busPort}`, 'bind 127.0.0.1', 'protected-mode yes',
    `requirepass ${password}`, `masterauth ${password}`,
    'cluster-enabled yes', 'cluster-config-file nodes.conf', 'cluster-node-timeout 5000',
    `dir ${dir}`, `logfile ${join(dir, 'redis.log')}`, 'daemonize no',
    'appendonly yes', 'appendfsync everysec', 'save ""', 'maxmemory-policy noeviction',
  ];
  const confFile = join(root, `node-${index}.conf`);
  await writeFile(confFile, `${conf.join('\n')}\n`, { mode: 0o600 });
  const child = spawn(binary, [confFile], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { port, busPort, url: `redis://:${password}@127.0.0.1:${port}`, process: child, exited };
}

/** Polls `check` until it is true, or fails with `what` after the timeout. */
async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`redis cluster: ${what} within ${READY_TIMEOUT_MS} ms`);
    await sleep(100);
  }
}

/** Starts `masters` cluster-enabled servers, gives each an equal run of slots, introduces them, and waits for state ok. */
export async function startRedisCluster(options: { masters?: number } = {}): Promise<LocalRedisCluster> {
  const masters = options.masters ?? 3;
  const binary = await redisServerBinary(() => {});
  const root = await mkdtemp(join(tmpdir(), 'bo-redis-cluster-'));
  const password = randomBytes(18).toString('hex');
  const nodes: ClusterNode[] = [];
  const ports = new Set<number>();
  const stop = async () => {
    for (const node of nodes) node.process.kill('SIGTERM');
    await Promise.all(nodes.map((node) => Promise.race([node.exited, sleep(5_000)])));
    for (const node of nodes) if (node.process.exitCode === null) node.process.kill('SIGKILL');
    await rm(root, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) nodes.push(await startNode(binary, root, i, password, ports));
    const clients = nodes.map((node) => createRedis({ url: node.url, name: 'boxoffice-test-cluster-setup' }));
    try {
      for (const client of clients) {
        client.on('error', () => {});
        await until('a node answers PING', async () => (await connectRedis(client), true));
      }
      // Slots first, then the handshake: each node learns the others' slots as they meet.
      await Promise.all(
        clients.map((client, i) => {
          const first = Math.floor((SLOTS * i) / masters);
          const last = Math.floor((SLOTS * (i + 1)) / masters) - 1;
          return client.call('CLUSTER', 'ADDSLOTSRANGE', first, last);
        }),
      );
      // The bus ports are not the default (port + 10000, maybe taken): name them.
      for (const node of nodes.slice(1)) await clients[0]!.call('CLUSTER', 'MEET', '127.0.0.1', node.port, node.busPort);
      await until('every node says cluster_state:ok', async () => {
        const infos = await Promise.all(clients.map((client) => client.call('CLUSTER', 'INFO')));
        return infos.every((info) => /cluster_state:ok/.test(String(info)) && new RegExp(`cluster_known_nodes:${masters}\\b`).test(String(info)));
      });
    } finally {
      for (const client of clients) client.disconnect();
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes: nodes.map((node) => node.url), stop };
}

/** A TestRedis on the cluster: a Cluster client, a fresh prefix, and a clean-up that visits every master. */
export async function createClusterTestRedis(cluster: LocalRedisCluster): Promise<TestRedis & { client: Cluster }> {
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const target = { kind: 'cluster', nodes: cluster.nodes } as const;
  const client = (await connectRedis(createRedis({ target, name: 'boxoffice-test' }))) as Cluster;
  return {
    url: cluster.nodes[0]!,
    target,
    prefix,
    client,
    async cleanup() {
      await deleteKeysUnder(client, prefix);
      await client.quit();
    },
  };
}

/** The port of the master that serves `key` (its hash slot, looked up in the cluster's slot table). */
export async function masterPortOf(client: Cluster, key: string): Promise<number> {
  const slot = Number(await client.call('CLUSTER', 'KEYSLOT', key));
  const ranges = (await client.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, ...unknown[]], ...unknown[]][];
  const range = ranges.find(([first, last]) => slot >= first && slot <= last);
  if (!range) throw new Error(`no master serves slot ${slot}`);
  return Number(range[2][1]);
}

/** How many keys under `pattern` each master holds, by port. */
export async function keysPerMaster(client: Cluster, pattern: string): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  for (const master of client.nodes('master')) {
    let [cursor, found] = ['0', 0];
    do {
      const [next, keys] = await master.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      found += keys.length;
      cursor = next;
    } while (cursor !== '0');
    counts.set(Number(master.options.port), found);
  }
  return counts;
}
