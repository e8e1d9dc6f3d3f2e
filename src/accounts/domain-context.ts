import type { Kysely } from 'kysely'
import type { PasswordHasher } from '../core/passwords/index.ts'
import type { ScopeRegistry } from '../core/scopes/index.ts'
import type { Database } from '../store/schema.ts'
import type { EmitEvent } from './events.ts'
import type { AccountLimiters } from './limiters.ts'
import type { Sessions } from './sessions.ts'

/** Why a new password is refused, or null: length and form first, then the common-password list. */
export interface PasswordRules {
  violation(password: string): { code: 'PASSWORD_POLICY' | 'PASSWORD_TOO_COMMON'; message: string } | null
}

/** What every use case of the domain works with; built once by createAccounts. */
export interface DomainContext {
  db: Kysely<Database>
  hasher: PasswordHasher
  passwordRules: PasswordRules
  limiters: AccountLimiters
  sessions: Sessions
  emit: EmitEvent
  /** Whether account mail (verification, reset, notices) is queued at all. */
  sendsMail: boolean
  /** Called after a mail was queued, so a worker in this process can send it without waiting. */
  mailQueued: () => void
  freshSessionSeconds: number
  requireVerifiedEmail: boolean
  resetTokenTtlSeconds: number
  verifyTokenTtlSeconds: number
  /** What API keys may be granted. */
  scopes: ScopeRegistry
  /** The longest lifetime a new API key may ask for. */
  apiKeyMaxDays: number
  /** Whether a password change or reset ends the user's API keys as it ends their sessions. */
  passwordChangeEndsApiKeys: boolean
  /** Work off the request's path that failed (a best-effort write): logged, never thrown. */
  onBackgroundError: (error: unknown) => void
}
