import type { Redis } from 'ioredis'
import {
  type ChannelLog,
  createLinkState,
  createListenerSet,
  createPublishLog,
  encodeRevocation,
  type RevocationChannel,
} from '../accounts/revocation-channel.ts'

/** A subscriber can go deaf silently (a dead route): a ping this often, bounded, finds out. */
const HEARTBEAT_MS = 5000

export interface RedisRevocationOptions {
  /** The shared client (no offline queue, bounded commands): PUBLISH goes through it. */
  publisher: Redis
  /** REDIS_KEY_PREFIX: the channel is `<prefix>:revocations`. */
  keyPrefix: string
  log: ChannelLog
  ttlSeconds: number
  /** False in the CLI: it publishes only. */
  listen?: boolean
}

/** The pub/sub channel: Redis pub/sub ignores the database number, so only the prefix separates deployments. */
export const redisRevocationChannelName = (keyPrefix: string) => `${keyPrefix}:revocations`
/** CLIENT SETNAME of the subscriber connection, to find it in CLIENT LIST. */
export const redisSubscriberName = (keyPrefix: string) => `${keyPrefix}:revocations-subscriber`

/**
 * Revocations over Redis pub/sub, for instances on one SQLite file (workers with REDIS_URL, or
 * the CLI beside a running server). A subscribed connection can run nothing else, so the
 * subscriber is a second connection, a duplicate of the shared one; ioredis reconnects it with
 * back-off. It subscribes again itself on every 'ready', and only then reports the channel up
 * and flushes the cache, so no message can fall between the flush and the subscription. A ping
 * every 5 s finds a connection that went silent, which nothing else would.
 */
export function redisRevocationChannel(options: RedisRevocationOptions): RevocationChannel {
  const channel = redisRevocationChannelName(options.keyPrefix)
  const listeners = createListenerSet()
  const link = createLinkState({
    name: 'Redis pub/sub',
    ttlSeconds: options.ttlSeconds,
    log: options.log,
    listeners,
  })
  const publishLog = createPublishLog({ ttlSeconds: options.ttlSeconds, log: options.log })
  let subscriber: Redis | null = null
  let heartbeat: NodeJS.Timeout | undefined

  if (options.listen !== false) {
    const sub = options.publisher.duplicate({
      connectionName: redisSubscriberName(options.keyPrefix),
      autoResubscribe: false,
      // Only SUBSCRIBE is ever sent, from 'ready': nothing waits in a queue.
      enableOfflineQueue: false,
      lazyConnect: false,
    })
    subscriber = sub
    sub.on('message', (from: string, message: string) => {
      if (from === channel) listeners.deliver(message)
    })
    sub.on('ready', () => {
      sub.subscribe(channel).then(
        () => link.up(),
        (error: unknown) => {
          link.down(error)
          // A connection that cannot subscribe is useless: drop it, ioredis reconnects.
          sub.disconnect(true)
        },
      )
    })
    sub.on('error', (error: unknown) => link.down(error))
    sub.on('close', () => {
      if (subscriber !== null) link.down()
    })
    // PING is allowed on a subscribed connection; it times out like any command (1 s).
    heartbeat = setInterval(() => {
      if (sub.status !== 'ready') return
      sub.ping().catch((error: unknown) => {
        link.down(error)
        sub.disconnect(true)
      })
    }, HEARTBEAT_MS)
    heartbeat.unref()
  }

  return {
    async publish(revocation) {
      try {
        await options.publisher.publish(channel, encodeRevocation(revocation))
        publishLog.succeeded()
      } catch (error) {
        publishLog.failed(error)
      }
    },
    subscribe: (listener) => listeners.add(listener),
    async close() {
      clearInterval(heartbeat)
      const sub = subscriber
      subscriber = null
      sub?.disconnect()
    },
  }
}
