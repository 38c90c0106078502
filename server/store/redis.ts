// Redis connections (ioredis, the one Redis client of the project; BullMQ needs it too).
// Request connections fail fast when Redis is away; blocking worker connections retry forever.
import { Redis, type RedisOptions } from 'ioredis';

export type { Redis };

export interface RedisConnectionOptions {
  url: string;
  /** 'request': commands fail fast while disconnected. 'worker': BullMQ blocking connection. */
  role?: 'request' | 'worker';
  name?: string;
}

export function createRedis(options: RedisConnectionOptions): Redis {
  const role = options.role ?? 'request';
  const base: RedisOptions = {
    lazyConnect: true,
    connectionName: options.name ?? `boxoffice-${role}`,
    connectTimeout: 5_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  };
  const roleOptions: RedisOptions =
    role === 'worker'
      ? { maxRetriesPerRequest: null, enableOfflineQueue: true }
      : { maxRetriesPerRequest: 1, enableOfflineQueue: false };
  return new Redis(options.url, { ...base, ...roleOptions });
}

/** Connects a lazy client and resolves once it answers PING. */
export async function connectRedis(client: Redis): Promise<Redis> {
  if (client.status === 'wait') await client.connect();
  await client.ping();
  return client;
}
