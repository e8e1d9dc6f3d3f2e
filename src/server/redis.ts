import { setTimeout as delay } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'
import { Redis } from 'ioredis'

/** How long startup waits for Redis, and the bound on connecting and on every command. */
const CONNECT_TIMEOUT_MS = 2000
const COMMAND_TIMEOUT_MS = 1000

/**
 * An ioredis client that can neither hang a request nor the shutdown: no offline queue (a command
 * while disconnected fails at once, and the throttle falls back to memory), bounded connect and
 * command times, endless background reconnection. Waits up to 2 s for the first connection; an
 * unreachable Redis is logged, never fatal.
 */
export async function connectRedis(url: string, name: string, log: FastifyBaseLogger): Promise<Redis> {
  const client = new Redis(url, {
    connectionName: name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: CONNECT_TIMEOUT_MS,
    commandTimeout: COMMAND_TIMEOUT_MS,
    retryStrategy: (attempt) => Math.min(attempt * 200, 5000),
  })
  // One line when the connection is lost, one when it is back (not one per reconnect attempt).
  let up = true
  client.on('error', (error: unknown) => {
    if (!up) return
    up = false
    log.warn({ err: error }, 'redis unavailable: login throttling uses this process memory until it is back')
  })
  client.on('ready', () => {
    if (!up) log.info('redis connection restored')
    up = true
  })
  await firstConnection(client)
  return client
}

function firstConnection(client: Redis): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      client.off('ready', done)
      client.off('error', done)
      resolve()
    }
    const timer = setTimeout(done, CONNECT_TIMEOUT_MS)
    client.once('ready', done)
    client.once('error', done)
  })
}

/** QUIT when connected (bounded), then drop the socket and stop reconnecting: never hangs. */
export async function closeRedis(client: Redis): Promise<void> {
  if (client.status === 'ready') {
    await Promise.race([
      client.quit().catch(() => undefined),
      delay(COMMAND_TIMEOUT_MS, undefined, { ref: false }),
    ])
  }
  client.disconnect()
}
