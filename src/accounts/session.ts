import type { User } from './user.ts'

/** How a token travels: 'bearer' in the Authorization header, 'session' in the session cookie. */
export type TokenKind = 'bearer' | 'session'

/** What proved the request: a token of either kind, or a personal API key (`ghk_`, header only). */
export type CredentialKind = TokenKind | 'api_key'

export interface IssuedAccessToken {
  /** The secret, shown to the client once. */
  token: string
  tokenHash: string
  /** The session's public id (what `GET /sessions` lists and `DELETE /sessions/{id}` names). */
  sessionId: string
  expiresAt: Date
  expiresInSeconds: number
}

/** What a valid token or API key proves: who, since when, how it was issued, and what it may do. */
export interface AccessTokenContext {
  user: User
  /** The row's id (in access_tokens, or in api_keys for a key). */
  tokenId: number
  tokenHash: string
  /** The public id (of the session, or of the key): safe to show, log and put in a URL. */
  sessionId: string
  kind: CredentialKind
  createdAt: Date
  expiresAt: Date
  /**
   * The scopes it carries: null for the user's own session or password-flow token (every scope the
   * application declares), the key's own list for an API key.
   */
  scopes: ReadonlySet<string> | null
}

/** A live session as its owner sees it in a list. */
export interface SessionSummary {
  id: string
  kind: TokenKind
  createdAt: Date
  lastUsedAt: Date | null
  expiresAt: Date
  userAgent: string | null
  ip: string | null
  /** The session this request is made with. */
  current: boolean
}
