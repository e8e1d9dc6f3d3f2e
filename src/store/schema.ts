import type { Generated } from 'kysely'

/**
 * Tables as Kysely sees them: snake_case columns, times as epoch milliseconds (one numeric type on
 * both engines), booleans as 0/1 integers (SQLite has no boolean and better-sqlite3 cannot bind one).
 * Rows are mapped to camelCase domain objects in src/accounts/*-mapping.ts only.
 */
export interface UsersTable {
  id: Generated<number>
  /** As the user typed it, for display. */
  email: string
  /** Lower-cased: the unique key, so `User@Example.com` and `user@example.com` are one account. */
  email_normalized: string
  hashed_password: string
  is_active: number
  is_superuser: number
  is_verified: number
  created_at: number
  updated_at: number
}

export interface AccessTokensTable {
  id: Generated<number>
  /** SHA-256 hex of the token; the token itself is never stored. */
  token_hash: string
  user_id: number
  /** 'bearer' (Authorization header) or 'session' (cookie): sessions need CSRF protection. */
  kind: string
  created_at: number
  expires_at: number
  last_used_at: number | null
  /** What the user sees and names in `DELETE /sessions/{id}`: random, not the token nor its hash. */
  public_id: string
  /** A short summary ("Firefox on Linux"), never the raw header. */
  user_agent: string | null
  ip: string | null
}

/** A personal API key: long-lived, scoped, for scripts; never a session (no cookie, no CSRF). */
export interface ApiKeysTable {
  id: Generated<number>
  public_id: string
  user_id: number
  name: string
  /** SHA-256 hex of the key; the key itself is shown once, at creation. */
  token_hash: string
  /** `ghk_` and the first characters of the secret: recognisable in a list, useless to an attacker. */
  prefix: string
  /** JSON array of scope names. */
  scopes: string
  created_at: number
  expires_at: number
  last_used_at: number | null
}

export interface OneTimeTokensTable {
  id: Generated<number>
  /** SHA-256 hex; the token itself exists only in the mail. */
  token_hash: string
  purpose: 'reset' | 'verify'
  user_id: number
  email_normalized: string
  created_at: number
  expires_at: number
}

export type OutboxPurpose = 'password-reset' | 'verify-email' | 'email-changed'
export type OutboxStatus = 'pending' | 'sent' | 'dropped' | 'failed'

/**
 * A mail to send. It holds no secret: the worker mints a reset or verification token when it
 * sends, so a database dump or a crash leaves no usable link behind.
 */
export interface OutboxTable {
  id: Generated<number>
  purpose: OutboxPurpose
  /** The address as typed (forgot password) or as stored. */
  recipient: string
  /** Known when the mail is about an account; null for a forgot-password request (resolved when sent). */
  user_id: number | null
  status: OutboxStatus
  attempts: Generated<number>
  created_at: number
  next_attempt_at: number
  /** A worker's claim: nobody else sends this row before then. */
  locked_until: number | null
  finished_at: number | null
  last_error: string | null
}

export interface AuditEventsTable {
  id: Generated<number>
  created_at: number
  type: string
  /** The account the event is about. */
  user_id: number | null
  /** Who acted, when not the account itself (a superuser); null for the user's own actions and the CLI. */
  actor_id: number | null
  session_id: string | null
  ip: string | null
  user_agent: string | null
  reason: string | null
}

export interface PreferencesTable {
  user_id: number
  /** A JSON object, serialised. */
  data: string
  updated_at: number
}

export interface Database {
  users: UsersTable
  access_tokens: AccessTokensTable
  api_keys: ApiKeysTable
  preferences: PreferencesTable
  one_time_tokens: OneTimeTokensTable
  outbox: OutboxTable
  audit_events: AuditEventsTable
}

export type Dialect = 'sqlite' | 'postgres'
