import type { Redis } from 'ioredis'
import type { ChannelLog, RevocationChannel } from '../accounts/revocation-channel.ts'
import type { Store } from '../store/open-store.ts'
import type { GatehouseConfig } from './config.ts'
import { clusterRevocationChannel, isClusterWorker } from './revocation-cluster.ts'
import { postgresRevocationChannel } from './revocation-postgres.ts'
import { redisRevocationChannel } from './revocation-redis.ts'

export interface RevocationWiring {
  store: Store
  /** The shared client, when REDIS_URL is set. */
  redis: Redis | null
  log: ChannelLog
  /** False in the CLI: it only tells the running servers. */
  listen: boolean
}

/**
 * One channel, chosen by what the deployment already has:
 * - PostgreSQL store: LISTEN/NOTIFY, even when REDIS_URL is set too. The news travels on the
 *   database that holds the tokens, so whoever can revoke (an instance, the CLI) can publish,
 *   and the channel is up whenever revoking is possible; Redis would add a second thing to be
 *   down, and the CLI would need REDIS_URL to reach the servers.
 * - SQLite with REDIS_URL: Redis pub/sub (workers, and the CLI beside them).
 * - SQLite without Redis, in a worker of `serve --workers N`: the cluster's IPC relay.
 * - Otherwise none: one process, its own revocations are instant; the CLI's are honoured within
 *   TOKEN_CACHE_SECONDS.
 */
export function revocationsFromConfig(
  config: GatehouseConfig,
  wiring: RevocationWiring,
): RevocationChannel | undefined {
  const common = { log: wiring.log, ttlSeconds: config.tokenCacheSeconds, listen: wiring.listen }
  if (wiring.store.dialect === 'postgres') {
    return postgresRevocationChannel({
      ...common,
      url: config.databaseUrl,
      db: wiring.store.db,
      timeoutSeconds: config.databaseTimeoutSeconds,
    })
  }
  if (wiring.redis)
    return redisRevocationChannel({ ...common, publisher: wiring.redis, keyPrefix: config.redisKeyPrefix })
  if (wiring.listen && isClusterWorker()) return clusterRevocationChannel()
  return undefined
}
