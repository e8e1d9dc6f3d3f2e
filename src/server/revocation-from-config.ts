import type { Redis } from 'ioredis'
import type { ChannelLog, RevocationChannel } from '../accounts/revocation-channel.ts'
import type { Store } from '../store/open-store.ts'
import type { GatehouseConfig } from './config.ts'
import { clusterRevocationChannel, isClusterWorker } from './revocation-cluster.ts'
import { postgresRevocationChannel } from './revocation-postgres.ts'
import { redisRevocationChannel } from './revocation-redis.ts'
import { sqliteRevocationChannel } from './revocation-sqlite.ts'

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
 * - SQLite without Redis: the revocation log in the file itself, polled every 100 ms (it reaches
 *   the CLI and a second `serve` on the file), and in a worker of `serve --workers N` the
 *   cluster's IPC relay too, which is instant. A message heard twice is harmless.
 * - `sqlite::memory:`: none; no other process can open that database.
 */
export function revocationsFromConfig(
  config: GatehouseConfig,
  wiring: RevocationWiring,
): RevocationChannel | undefined {
  // Without a cache there is nothing to drop: such an instance only tells the others.
  const listen = wiring.listen && config.tokenCacheSeconds > 0
  const common = { log: wiring.log, ttlSeconds: config.tokenCacheSeconds, listen }
  if (wiring.store.dialect === 'postgres') {
    return postgresRevocationChannel({
      ...common,
      url: config.databaseUrl,
      db: wiring.store.db,
      timeoutSeconds: config.databaseTimeoutSeconds,
    })
  }
  if (wiring.redis) {
    return redisRevocationChannel({ ...common, publisher: wiring.redis, keyPrefix: config.redisKeyPrefix })
  }
  if (config.databaseUrl === 'sqlite::memory:') return undefined
  const log = sqliteRevocationChannel({ ...common, db: wiring.store.db })
  return listen && isClusterWorker() ? bothChannels(clusterRevocationChannel(), log) : log
}

/** Publishes on both, hears both. */
function bothChannels(first: RevocationChannel, second: RevocationChannel): RevocationChannel {
  return {
    async publish(revocation) {
      await Promise.all([first.publish(revocation), second.publish(revocation)])
    },
    subscribe(listener) {
      first.subscribe(listener)
      second.subscribe(listener)
    },
    async close() {
      await Promise.all([first.close(), second.close()])
    },
  }
}
