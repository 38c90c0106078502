// Redis connections (ioredis, the one Redis client of the project; BullMQ needs it too), to a
// single Redis or to a Redis Cluster. Request connections fail fast when Redis is away; blocking
// worker connections retry forever.
import { Cluster, Redis as SingleRedis, type ClusterOptions, type RedisOptions } from 'ioredis';

/** A connection to one Redis or to a whole cluster: the commands the code sends are the same. */
export type Redis = SingleRedis | Cluster;

/** Where Redis lives: one server by URL, or a cluster reached through some of its masters (seed nodes). */
export type RedisTarget = { readonly kind: 'single'; readonly url: string } | { readonly kind: 'cluster'; readonly nodes: readonly string[] };

interface ConnectionRole {
  /** 'request': commands fail fast while disconnected. 'worker': BullMQ blocking connection. */
  role?: 'request' | 'worker';
  name?: string;
}

export type RedisConnectionOptions = ({ url: string } | { target: RedisTarget }) & ConnectionRole;

const CONNECT_TIMEOUT_MS = 5_000;
const reconnectDelay = (attempt: number) => Math.min(attempt * 200, 2_000);

/** A single Redis by URL is always a plain client; a target may be a cluster. */
export function createRedis(options: { url: string } & ConnectionRole): SingleRedis;
export function createRedis(options: RedisConnectionOptions): Redis;
export function createRedis(options: RedisConnectionOptions): Redis {
  const role = options.role ?? 'request';
  const name = options.name ?? `boxoffice-${role}`;
  const target: RedisTarget = 'url' in options ? { kind: 'single', url: options.url } : options.target;
  return target.kind === 'cluster' ? createCluster(target.nodes, role, name) : createSingle(target.url, role, name);
}

function createSingle(url: string, role: 'request' | 'worker', name: string): SingleRedis {
  const roleOptions: RedisOptions =
    role === 'worker' ? { maxRetriesPerRequest: null, enableOfflineQueue: true } : { maxRetriesPerRequest: 1, enableOfflineQueue: false };
  return new SingleRedis(url, {
    lazyConnect: true,
    connectionName: name,
    connectTimeout: CONNECT_TIMEOUT_MS,
    retryStrategy: reconnectDelay,
    ...roleOptions,
  });
}

/**
 * The seeds only help find the cluster: every master it then talks to comes from CLUSTER SLOTS,
 * without the seeds' credentials, so those (one set for the cluster) go in the per-node options.
 */
function createCluster(nodes: readonly string[], role: 'request' | 'worker', name: string): Cluster {
  const seeds = nodes.map((node) => {
    const url = new URL(node);
    return { host: url.hostname, port: Number(url.port || 6379) };
  });
  const first = new URL(nodes[0]!);
  const nodeOptions: ClusterOptions['redisOptions'] = {
    connectionName: name,
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    ...(first.username ? { username: decodeURIComponent(first.username) } : {}),
    ...(first.password ? { password: decodeURIComponent(first.password) } : {}),
    ...(first.protocol === 'rediss:' ? { tls: {} } : {}),
  };
  return new Cluster(seeds, {
    lazyConnect: true,
    // The same rule as for one Redis: requests fail fast while the cluster is unreachable, workers wait.
    enableOfflineQueue: role === 'worker',
    clusterRetryStrategy: reconnectDelay,
    // A failover or a slot moving is short: retry the command after a pause instead of failing it.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 100,
    maxRedirections: 16,
    slotsRefreshTimeout: CONNECT_TIMEOUT_MS,
    redisOptions: nodeOptions,
  });
}

export const isCluster = (client: Redis): client is Cluster => client.isCluster;

/** Connects a lazy client and resolves once it answers PING (on a cluster: once it knows the slots). */
export async function connectRedis<T extends Redis>(client: T): Promise<T> {
  if (client.status === 'wait') await client.connect();
  await client.ping();
  return client;
}

/**
 * Whether Redis serves: a PING on one Redis; on a cluster, the cluster says its state is ok (every
 * slot served) and each master this client knows answers, since any of them holds some event's keys.
 */
export async function checkRedis(client: Redis): Promise<void> {
  if (!isCluster(client)) {
    await client.ping();
    return;
  }
  const info = String(await client.cluster('INFO'));
  const state = /cluster_state:(\w+)/.exec(info)?.[1];
  if (state !== 'ok') throw new Error(`redis cluster state is ${state ?? 'unknown'}`);
  const masters = client.nodes('master');
  if (masters.length === 0) throw new Error('redis cluster has no known master');
  await Promise.all(masters.map((node) => node.ping()));
}
