import type { AccessTokenContext } from './session.ts'

/**
 * A short-lived, bounded memory of recently validated tokens, keyed by the token's SHA-256 (never
 * the token itself), so the authenticated hot path does not query the database on every request.
 *
 * Safety: revocations, logouts and email changes made through this process drop the affected
 * entries at once; an entry never outlives its token's expiry; a change made by another process
 * (the CLI, a second instance) is seen as soon as the revocation channel delivers it, and within
 * `ttlSeconds` when there is none or it is down. Set the TTL to 0 to turn it off.
 * Unknown tokens are never cached, so random guesses cannot fill it.
 */
export interface CachedToken {
  readonly context: AccessTokenContext
  /** When `last_used_at` was last written (null: never); the validator moves it on as it writes. */
  lastUsedAt: number | null
}

export interface TokenCache {
  /** The cached token, or undefined when not cached (or stale). */
  get(tokenHash: string, now: number): CachedToken | undefined
  /** Caches for one TTL, never past the token's expiry nor past `limits.validUntil` (idle deadline). */
  set(
    tokenHash: string,
    context: AccessTokenContext,
    now: number,
    limits?: { lastUsedAt?: number | null; validUntil?: number },
  ): void
  /** Forgets the token, and refuses to cache it again for one TTL. */
  deleteToken(tokenHash: string, now?: number): void
  /** Forgets every token of the user, and caches none of them for one TTL. */
  deleteUser(userId: number, now?: number): void
  /**
   * Forgets every token (a revocation may have been missed), and caches nothing from a validation
   * that began before: its database read may predate the revocation that was missed.
   */
  clear(now?: number): void
}

interface Entry extends CachedToken {
  validUntil: number
}

export function createTokenCache(options: { ttlSeconds: number; maxEntries?: number }): TokenCache | null {
  if (options.ttlSeconds <= 0) return null
  const ttlMs = options.ttlSeconds * 1000
  const maxEntries = options.maxEntries ?? 10_000
  const entries = new Map<string, Entry>()
  // Tombstones: a validation that read the database just before a revocation must not put the
  // token back once the revocation has cleared it, so nothing is cached for these for one TTL.
  const revokedTokens = new Map<string, number>()
  const revokedUsers = new Map<number, number>()
  // Validations that started (read the database) at or before this time cache nothing.
  let clearedAt = Number.NEGATIVE_INFINITY
  const isTombstoned = <K>(tombstones: Map<K, number>, key: K, now: number) => {
    const until = tombstones.get(key)
    if (until === undefined) return false
    if (until > now) return true
    tombstones.delete(key)
    return false
  }

  return {
    get(tokenHash, now) {
      const entry = entries.get(tokenHash)
      if (entry === undefined) return undefined
      if (entry.validUntil <= now) {
        entries.delete(tokenHash)
        return undefined
      }
      return entry
    },
    set(tokenHash, context, now, limits = {}) {
      if (now <= clearedAt) return
      if (isTombstoned(revokedTokens, tokenHash, now) || isTombstoned(revokedUsers, context.user.id, now))
        return
      if (entries.size >= maxEntries) {
        // Map iteration is insertion order: the oldest entry goes first.
        entries.delete(entries.keys().next().value as string)
      }
      const validUntil = Math.min(
        now + ttlMs,
        context.expiresAt.getTime(),
        limits.validUntil ?? Number.POSITIVE_INFINITY,
      )
      entries.set(tokenHash, { context, lastUsedAt: limits.lastUsedAt ?? null, validUntil })
    },
    deleteToken(tokenHash, now = Date.now()) {
      entries.delete(tokenHash)
      if (revokedTokens.size >= maxEntries) revokedTokens.clear()
      revokedTokens.set(tokenHash, now + ttlMs)
    },
    deleteUser(userId, now = Date.now()) {
      if (revokedUsers.size >= maxEntries) revokedUsers.clear()
      revokedUsers.set(userId, now + ttlMs)
      for (const [tokenHash, entry] of entries) {
        if (entry.context.user.id === userId) entries.delete(tokenHash)
      }
    },
    clear(now = Date.now()) {
      entries.clear()
      clearedAt = now
    },
  }
}
