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
