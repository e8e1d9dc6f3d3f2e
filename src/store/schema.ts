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
  preferences: PreferencesTable
}

export type Dialect = 'sqlite' | 'postgres'
