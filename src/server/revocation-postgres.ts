import { randomBytes } from 'node:crypto'
import { type Kysely, sql } from 'kysely'
import pg from 'pg'
import {
  type ChannelLog,
  createLinkState,
  createListenerSet,
  createPublishLog,
  encodeRevocation,
  type RevocationChannel,
} from '../accounts/revocation-channel.ts'
import type { Database } from '../store/schema.ts'

export const POSTGRES_REVOCATION_CHANNEL = 'gatehouse_revocations'
/** Every listening connection is named so (plus a per-process suffix): easy to find in pg_stat_activity. */
export const LISTENER_APPLICATION_NAME = 'gatehouse-revocations'

const RETRY_MIN_MS = 100
const RETRY_MAX_MS = 5000
/** A listener can die silently (a dropped route): a ping this often, bounded, finds out. */
const HEARTBEAT_MS = 5000

export interface PostgresRevocationOptions {
  /** The PostgreSQL URL of the store. */
  url: string
  /** The store: NOTIFY goes through its pool, so publishing works whenever revoking does. */
  db: Kysely<Database>
  log: ChannelLog
  ttlSeconds: number
  /** Bound on connecting and on the heartbeat, in seconds. */
  timeoutSeconds: number
  /** False in the CLI: it publishes only, nothing of its own is cached for long. */
  listen?: boolean
  /** The NOTIFY channel; one per deployment sharing the database (default gatehouse_revocations). */
  channel?: string
}

/**
 * Revocations over PostgreSQL LISTEN/NOTIFY: the database that holds the tokens carries the news,
 * so no other service is needed and anything that can revoke (an instance, the CLI) can publish.
 * The listener is a dedicated connection, outside the pool: LISTEN belongs to a session, and a
 * pooled client would be handed back. It reconnects with back-off; after a reconnect every
 * listener is told that messages may have been missed.
 */
export function postgresRevocationChannel(options: PostgresRevocationOptions): RevocationChannel {
  const channel = options.channel ?? POSTGRES_REVOCATION_CHANNEL
  const listeners = createListenerSet()
  const link = createLinkState({
    name: 'PostgreSQL LISTEN',
    ttlSeconds: options.ttlSeconds,
    log: options.log,
    listeners,
  })
  const applicationName = `${LISTENER_APPLICATION_NAME}-${randomBytes(3).toString('hex')}`
  const timeoutMs = options.timeoutSeconds * 1000
  let closed = false
  let client: pg.Client | null = null
  let retryMs = RETRY_MIN_MS
  let retryTimer: NodeJS.Timeout | undefined
  let heartbeat: NodeJS.Timeout | undefined
  const publishLog = createPublishLog({ ttlSeconds: options.ttlSeconds, log: options.log })

  const lost = (failed: pg.Client, error?: unknown) => {
    if (client !== failed) return
    client = null
    clearInterval(heartbeat)
    failed.removeAllListeners('notification')
    // Still listening for 'error': a socket being torn down may emit once more.
    failed.end().catch(() => {})
    if (closed) return
    link.down(error)
    retryTimer = setTimeout(connect, retryMs)
    retryTimer.unref()
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS)
  }

  const connect = async () => {
    if (closed) return
    const next = new pg.Client({
      connectionString: options.url,
      application_name: applicationName,
      connectionTimeoutMillis: timeoutMs,
      keepAlive: true,
    })
    client = next
    next.on('error', (error) => lost(next, error))
    next.on('end', () => lost(next))
    next.on('notification', (message) => {
      if (message.channel === channel) listeners.deliver(message.payload)
    })
    try {
      await next.connect()
      await next.query(`LISTEN ${pg.escapeIdentifier(channel)}`)
    } catch (error) {
      lost(next, error)
      return
    }
    if (client !== next) return
    if (closed) {
      await next.end().catch(() => {})
      return
    }
    retryMs = RETRY_MIN_MS
    link.up()
    heartbeat = setInterval(() => {
      const ping = next.query('select 1')
      const timer = setTimeout(
        () => lost(next, new Error('revocation listener heartbeat timed out')),
        timeoutMs,
      )
      ping.then(
        () => clearTimeout(timer),
        (error: unknown) => {
          clearTimeout(timer)
          lost(next, error)
        },
      )
    }, HEARTBEAT_MS)
    heartbeat.unref()
  }

  if (options.listen !== false) void connect()

  return {
    async publish(revocation) {
      try {
        // One statement through the pool, bounded like every other (DATABASE_TIMEOUT_SECONDS).
        await sql`select pg_notify(${channel}, ${encodeRevocation(revocation)})`.execute(options.db)
        publishLog.succeeded()
      } catch (error) {
        publishLog.failed(error)
      }
    },
    subscribe: (listener) => listeners.add(listener),
    async close() {
      closed = true
      clearTimeout(retryTimer)
      clearInterval(heartbeat)
      const current = client
      client = null
      if (current === null) return
      current.removeAllListeners('notification')
      await Promise.race([
        current.end().catch(() => {}),
        new Promise((r) => setTimeout(r, timeoutMs).unref()),
      ])
    },
  }
}
