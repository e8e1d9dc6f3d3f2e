import { Redis } from 'ioredis'

/**
 * A client for a Redis that is not there: nothing listens on port 1 and the client retries
 * nothing, so it is never ready and every limiter call goes to its in-memory insurance.
 * Disconnect it when done.
 */
export function unreachableRedis(): Redis {
  const redis = new Redis({
    host: '127.0.0.1',
    port: 1,
    lazyConnect: true,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  })
  redis.on('error', () => {})
  return redis
}
