import type { Kysely } from 'kysely'
import { emailViolation } from '../core/email/index.ts'
import { GatehouseError } from '../core/errors.ts'
import { type PasswordHasher, passwordPolicyViolation } from '../core/passwords/index.ts'
import type { Database } from '../store/schema.ts'
import {
  type AccessTokenContext,
  type IssuedAccessToken,
  issueAccessToken,
  pruneAccessTokens,
  revokeAccessToken,
  revokeUserTokens,
  type TokenKind,
  touchIntervalFor,
  validateAccessToken,
} from './access-tokens.ts'
import { type Preferences, readPreferences, writePreferences } from './preferences.ts'
import { createTokenCache } from './token-cache.ts'
import type { User } from './user.ts'
import { findCredentialsByEmail, findUserById, insertUser, updateEmail, updatePasswordHash } from './users.ts'

export interface AccountsOptions {
  db: Kysely<Database>
  hasher: PasswordHasher
  accessTokenTtlSeconds: number
  /** Refuse a token unused this long (0: never). */
  idleTimeoutSeconds: number
  /** `last_used_at` write interval; at most half the idle timeout (derived from it when absent). */
  touchIntervalSeconds?: number
  /** Seconds a validated token is remembered in memory (0: always read the database). */
  tokenCacheSeconds?: number
  onBackgroundError?: (error: unknown) => void
}

export type Accounts = ReturnType<typeof createAccounts>

/** A field the domain refuses, as a FastAPI-style field error (the HTTP layer adds nothing). */
function refuseField(field: string, violation: string | null, code: 'PASSWORD_POLICY' | 'VALIDATION_FAILED') {
  if (violation) {
    throw new GatehouseError(code, {
      detail: [{ loc: ['body', field], msg: violation, type: 'value_error' }],
    })
  }
}

const assertPasswordPolicy = (password: string) =>
  refuseField('password', passwordPolicyViolation(password), 'PASSWORD_POLICY')
const assertValidEmail = (email: string) => refuseField('email', emailViolation(email), 'VALIDATION_FAILED')

/** What public registration accepts: these two fields and nothing else. */
export interface Registration {
  email: string
  password: string
}

/** An account made by an operator (CLI, later admin routes), who may grant superuser rights. */
export interface NewAccount extends Registration {
  isSuperuser: boolean
}

/** The account use cases, over one store and one hasher. Knows nothing of HTTP. */
export function createAccounts(options: AccountsOptions) {
  const { db, hasher } = options
  const cache = createTokenCache({ ttlSeconds: options.tokenCacheSeconds ?? 0 })
  const validateOptions = {
    idleTimeoutSeconds: options.idleTimeoutSeconds,
    // Refuses, at construction, an interval that would log out a token in steady use.
    touchIntervalSeconds: touchIntervalFor(options.idleTimeoutSeconds, options.touchIntervalSeconds),
    onTouchError: options.onBackgroundError,
    cache,
  }

  async function createAccount(email: string, password: string, isSuperuser: boolean): Promise<User> {
    assertValidEmail(email)
    assertPasswordPolicy(password)
    const hashedPassword = await hasher.hash(password)
    return insertUser(db, { email, hashedPassword, isSuperuser })
  }

  return {
    db,
    accessTokenTtlSeconds: options.accessTokenTtlSeconds,

    /**
     * Public self-registration: an active, unverified, unprivileged account. Only `email` and
     * `password` are read, whatever else the object holds, so no request field can grant a
     * privilege (OWASP Mass Assignment Cheat Sheet; ASVS 5.0 V15.3.3).
     */
    register(input: Registration): Promise<User> {
      return createAccount(input.email, input.password, false)
    },

    /** An operator's account creation: the same email and password rules, and the superuser flag. */
    createUser(input: NewAccount): Promise<User> {
      return createAccount(input.email, input.password, input.isSuperuser === true)
    },

    /**
     * The user for these credentials, or null; unknown email, wrong password and inactive account
     * all look the same (OWASP Authentication Cheat Sheet, "Authentication and error messages").
     */
    async authenticate(email: string, password: string): Promise<User | null> {
      if (passwordPolicyViolation(password)) {
        // Still costs one verify: an over-long or short password must not time differently.
        return hasher.verifyDummy(password.slice(0, 1024)).then(() => null)
      }
      const found = await findCredentialsByEmail(db, email)
      if (!found) return hasher.verifyDummy(password).then(() => null)
      const { valid, upgradedHash } = await hasher.verifyAndUpgrade(password, found.hashedPassword)
      if (!valid || !found.user.isActive) return null
      if (upgradedHash) await updatePasswordHash(db, found.user.id, upgradedHash)
      return found.user
    },

    issueToken(userId: number, kind: TokenKind): Promise<IssuedAccessToken> {
      return issueAccessToken(db, userId, kind, options.accessTokenTtlSeconds)
    },

    /** The token's context when valid *and* of `kind` (bearer: header only; session: cookie only). */
    validateToken(token: string, kind: TokenKind): Promise<AccessTokenContext | null> {
      return validateAccessToken(db, token, kind, validateOptions)
    },

    async revokeToken(tokenHash: string): Promise<boolean> {
      cache?.deleteToken(tokenHash)
      return revokeAccessToken(db, tokenHash)
    },
    async revokeUserTokens(userId: number): Promise<number> {
      cache?.deleteUser(userId)
      return revokeUserTokens(db, userId)
    },
    pruneTokens: () => pruneAccessTokens(db, options.idleTimeoutSeconds),
    findUserById: (id: number) => findUserById(db, id),
    async changeEmail(userId: number, email: string): Promise<User> {
      assertValidEmail(email)
      const user = await updateEmail(db, userId, email)
      // Cached sessions of this user carry the old email.
      cache?.deleteUser(userId)
      return user
    },

    /** Re-checks the current password of a signed-in user (step-up before sensitive changes). */
    async verifyPassword(user: User, password: string): Promise<boolean> {
      if (passwordPolicyViolation(password)) return false
      const found = await findCredentialsByEmail(db, user.email)
      if (!found || found.user.id !== user.id) return false
      return (await hasher.verifyAndUpgrade(password, found.hashedPassword)).valid
    },

    readPreferences: (userId: number) => readPreferences(db, userId),
    writePreferences: (userId: number, preferences: Preferences) => writePreferences(db, userId, preferences),
  }
}
