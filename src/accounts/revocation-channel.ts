/**
 * How instances sharing one database tell each other that cached tokens are no longer valid.
 * Each instance caches validated tokens for TOKEN_CACHE_SECONDS (the hot path reads no database);
 * a revocation made anywhere is published here, and every instance drops what it names on
 * receipt. When the channel is down, the cache TTL is the bound; after a reconnect the whole
 * cache is dropped, since a message may have been missed.
 */
export type Revocation =
  /** One token (logout, one session ended). */
  | { kind: 'token'; tokenHash: string }
  /** Every token of a user (password change or reset, deactivation, email change, CLI). */
  | { kind: 'user'; userId: number }
  /** Every session of every user (an administrator's response to a breach). */
  | { kind: 'all' }

export interface RevocationListener {
  revoked(revocation: Revocation): void
  /** Messages may have been lost (the channel reconnected): forget every cached token. */
  missed(): void
}

export interface RevocationChannel {
  /** Best effort and never throws: a failed publish is logged by the channel, the TTL bounds it. */
  publish(revocation: Revocation): Promise<void>
  subscribe(listener: RevocationListener): void
  close(): Promise<void>
}

const TOKEN_HASH = /^[0-9a-f]{64}$/
const USER_ID = /^[1-9]\d{0,15}$/

/**
 * The wire form, shared by every channel: `t:<sha256 hex>`, `u:<user id>` or `a:`, at most 66 bytes.
 * Never the token itself. The hash is what `access_tokens.token_hash` stores, so it is a lookup
 * key, not a credential: presenting it authenticates nothing (the server hashes what it is sent),
 * and the channels are private to the deployment (the database's own connection, the Redis the
 * instances share, the cluster's IPC pipe).
 */
export function encodeRevocation(revocation: Revocation): string {
  if (revocation.kind === 'token') return `t:${revocation.tokenHash}`
  return revocation.kind === 'user' ? `u:${revocation.userId}` : 'a:'
}

/** The revocation a message names, or null for anything else (it is then ignored). */
export function decodeRevocation(message: unknown): Revocation | null {
  if (typeof message !== 'string') return null
  const value = message.slice(2)
  if (message.startsWith('t:') && TOKEN_HASH.test(value)) return { kind: 'token', tokenHash: value }
  if (message.startsWith('u:') && USER_ID.test(value)) return { kind: 'user', userId: Number(value) }
  if (message === 'a:') return { kind: 'all' }
  return null
}

/** Calls every subscribed listener; one that throws does not keep the message from the others. */
export function createListenerSet() {
  const listeners: RevocationListener[] = []
  const each = (call: (listener: RevocationListener) => void) => {
    for (const listener of listeners) {
      try {
        call(listener)
      } catch {
        // A listener only drops cache entries; there is nothing a channel could do about a failure.
      }
    }
  }
  return {
    add: (listener: RevocationListener) => void listeners.push(listener),
    /** A raw message off the wire: decoded, and ignored when it names nothing. */
    deliver(message: unknown) {
      const revocation = decodeRevocation(message)
      if (revocation !== null) each((listener) => listener.revoked(revocation))
    },
    missed: () => each((listener) => listener.missed()),
  }
}

/** The part of a pino logger a channel uses. */
export interface ChannelLog {
  warn(details: object, message: string): void
  info(message: string): void
}

/**
 * Up or down, with one log line per change (never one per retry), and the cache flush a channel
 * owes its listeners whenever it starts hearing (first connection, reconnection): whatever was
 * published before never reached them.
 */
export function createLinkState(options: {
  name: string
  ttlSeconds: number
  log: ChannelLog
  listeners: { missed(): void }
}) {
  const { name, log } = options
  let state: 'starting' | 'up' | 'down' = 'starting'
  return {
    get isUp() {
      return state === 'up'
    },
    up() {
      if (state === 'up') return
      const wasDown = state === 'down'
      state = 'up'
      // The first time too: the instance may have cached tokens (and missed their revocations)
      // in the moments between starting to serve and the subscription taking effect.
      options.listeners.missed()
      if (!wasDown) return
      log.info(`revocation channel (${name}) restored: token cache flushed, revocations are instant again`)
    },
    down(error?: unknown) {
      if (state === 'down') return
      state = 'down'
      log.warn(
        { err: error },
        `revocation channel (${name}) unavailable: revocations from other instances may take up to ` +
          `TOKEN_CACHE_SECONDS (${options.ttlSeconds} s) until it is back`,
      )
    },
  }
}

/**
 * A channel's publishing side: a failure is logged when publishing starts failing, not at every
 * revocation while it lasts (the revocation itself is in the database either way).
 */
export function createPublishLog(options: { ttlSeconds: number; log: ChannelLog; peers?: string }) {
  let failing = false
  return {
    succeeded() {
      failing = false
    },
    failed(error: unknown) {
      if (failing) return
      failing = true
      options.log.warn(
        { err: error },
        `revocation not published: other ${options.peers ?? 'instances'} honour it within ` +
          `TOKEN_CACHE_SECONDS (${options.ttlSeconds} s)`,
      )
    },
  }
}
