import type { User } from './user.ts'

/** How a token travels: 'bearer' in the Authorization header, 'session' in the session cookie. */
export type TokenKind = 'bearer' | 'session'

export interface IssuedAccessToken {
  /** The secret, shown to the client once. */
  token: string
  tokenHash: string
  /** The session's public id (what `GET /sessions` lists and `DELETE /sessions/{id}` names). */
  sessionId: string
  expiresAt: Date
  expiresInSeconds: number
}

/** What a valid token proves: who, since when, and how it was issued. */
export interface AccessTokenContext {
  user: User
  tokenId: number
  tokenHash: string
  /** The public id: safe to show, log and put in a URL. */
  sessionId: string
  kind: TokenKind
  createdAt: Date
  expiresAt: Date
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
