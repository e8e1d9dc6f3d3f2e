import { type Kysely, PostgresAdapter, sql } from 'kysely'
import { EMAIL_MAX_LENGTH } from '../core/email/index.ts'
import { GatehouseError } from '../core/errors.ts'
import type { Database } from '../store/schema.ts'
import type { ApiKeySummary } from './api-key-store.ts'
import { assertValidEmail } from './credentials.ts'
import type { DomainContext } from './domain-context.ts'
import type { ClientInfo } from './events.ts'
import { checkedLimit, decodeCursor, encodeCursor, MAX_ROW_ID } from './keyset-cursor.ts'
import { deleteUserOneTimeTokens } from './one-time-tokens.ts'
import { enqueueMail } from './outbox.ts'
import type { AccessTokenContext, SessionSummary } from './session.ts'
import { assertFreshSession, assertNotApiKey } from './step-up.ts'
import { normalizeEmail, rowToUser, USER_COLUMNS, type User } from './user.ts'
import { findUserById, updateEmail } from './users.ts'

/**
 * Who performs an administrative action: a superuser's session (checked here: superuser, and a
 * recent login for a change), or null for an operator at the CLI, who holds the database already.
 */
export interface Actor {
  session: AccessTokenContext | null
  client?: ClientInfo
}

export interface UserListQuery {
  /** 1..100. */
  limit: number
  /** The `nextCursor` of the previous page; absent for the first page. */
  cursor?: string | null
  emailPrefix?: string
  isActive?: boolean
  isVerified?: boolean
}

export interface UserPage {
  users: User[]
  /** Null on the last page. */
  nextCursor: string | null
}

/** What a superuser may change; nothing else of a request reaches the store. */
export interface UserChanges {
  isActive?: boolean
  isVerified?: boolean
  isSuperuser?: boolean
  email?: string
}

export const MAX_USER_PAGE = 100

/** `LIKE` matches a prefix only once its own wildcards (and the escape character) are escaped. */
function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, (character) => `\\${character}`)}%`
}

const PUBLIC_ID = /^[A-Za-z0-9_-]{22}$/
const isValidId = (id: number) => Number.isSafeInteger(id) && id > 0 && id <= MAX_ROW_ID

type Executor = Kysely<Database>

/** The PostgreSQL advisory lock key of superuser changes ("gate" "su" in ASCII): ours alone. */
const SUPERUSER_LOCK = 0x6761_7465_7375

/** Superuser and operator use cases over every account. */
export function createAdministration(context: DomainContext) {
  const { db, sessions, emit } = context
  const isPostgres = db.getExecutor().adapter instanceof PostgresAdapter

  /**
   * Deny by default (OWASP Authorization Cheat Sheet): a session must be a superuser's, never an
   * API key (ASVS 5.0 V8.2.1: a key is no person), and a change needs a recent login, as there is
   * no password to offer instead (ASVS 5.0 V7.5.1). The user in a context is current: every change
   * to a user drops its cached contexts, so a demoted superuser is refused on the next request.
   */
  function authorize(actor: Actor, change: boolean): void {
    const { session } = actor
    if (session === null) return
    assertNotApiKey(session)
    if (!session.user.isSuperuser || !session.user.isActive) throw new GatehouseError('SUPERUSER_REQUIRED')
    if (change) assertFreshSession(session, context.freshSessionSeconds)
  }

  /** What every event of an administrative action names: the target, and who acted. */
  function actorDetails(actor: Actor, userId: number | null) {
    return {
      userId,
      actorId: actor.session?.user.id ?? null,
      sessionId: actor.session?.sessionId ?? null,
      client: actor.client ?? null,
    }
  }
  const actorReason = (actor: Actor) => (actor.session === null ? 'cli' : 'by_admin')

  async function existingUser(executor: Executor, userId: number): Promise<User> {
    const user = isValidId(userId) ? await findUserById(executor, userId) : null
    if (!user) throw new GatehouseError('NOT_FOUND', { detail: 'User not found' })
    return user
  }

  /**
   * Runs `work` so that the last-superuser rule is decided on a state no concurrent change can
   * alter. SQLite: BEGIN IMMEDIATE takes the database's one write lock before the first read (a
   * deferred transaction would read a snapshot, then fail with SQLITE_BUSY_SNAPSHOT on upgrade).
   * PostgreSQL (READ COMMITTED): a conditional UPDATE alone is not enough, two transactions each
   * see the other's superuser still active and both commit; so every such change first takes one
   * transaction-scoped advisory lock. The second waits, and its next statement sees what the first
   * committed. One lock for every account rather than row locks: these changes are rare, and the
   * rule is then plainly serial, whatever rows each change reads.
   */
  async function withSuperuserLock<T>(actor: Actor, work: (executor: Executor) => Promise<T>): Promise<T> {
    if (isPostgres) {
      return db.transaction().execute(async (trx) => {
        await sql`select pg_advisory_xact_lock(${sql.lit(SUPERUSER_LOCK)})`.execute(trx)
        await assertStillSuperuser(trx, actor)
        return work(trx)
      })
    }
    return db.connection().execute(async (connection) => {
      await sql`begin immediate`.execute(connection)
      try {
        await assertStillSuperuser(connection, actor)
        const result = await work(connection)
        await sql`commit`.execute(connection)
        return result
      } catch (error) {
        await sql`rollback`.execute(connection).catch(() => {})
        throw error
      }
    })
  }

  /**
   * The actor's rights as they are now, under the lock: a superuser demoted (or deactivated) by a
   * change that committed while this request waited for the lock must not complete its own.
   */
  async function assertStillSuperuser(executor: Executor, actor: Actor): Promise<void> {
    const { session } = actor
    if (session === null) return
    const current = await findUserById(executor, session.user.id)
    if (!current?.isSuperuser || !current.isActive) throw new GatehouseError('SUPERUSER_REQUIRED')
  }

  /**
   * Holds only when the row is not an active superuser, or another active superuser remains: the
   * condition of every UPDATE or DELETE that may take the flag (or the account) away, evaluated by
   * the database in the same statement, under the lock above.
   */
  const keepsASuperuser = (userId: number) =>
    sql<boolean>`(not (is_active = 1 and is_superuser = 1) or exists (
      select 1 from users as other
      where other.id <> ${userId} and other.is_active = 1 and other.is_superuser = 1))`

  function checkedChanges(changes: UserChanges): UserChanges {
    // Picked one by one: whatever else the object holds never reaches the store.
    const picked: UserChanges = {}
    for (const flag of ['isActive', 'isVerified', 'isSuperuser'] as const) {
      const value = changes[flag]
      if (value === undefined) continue
      if (typeof value !== 'boolean') {
        throw new GatehouseError('VALIDATION_FAILED', { detail: `${flag} must be a boolean`, field: flag })
      }
      picked[flag] = value
    }
    if (changes.email !== undefined) {
      if (typeof changes.email !== 'string') {
        throw new GatehouseError('VALIDATION_FAILED', { detail: 'email must be a string', field: 'email' })
      }
      assertValidEmail(changes.email)
      picked.email = changes.email
    }
    if (Object.keys(picked).length === 0) {
      throw new GatehouseError('VALIDATION_FAILED', { detail: 'Nothing to change', field: '' })
    }
    return picked
  }

  /** The fields that differ, in wire names, for the audit trail's `reason`. */
  function changedFields(before: User, after: User): string[] {
    const fields: string[] = []
    if (before.email !== after.email) fields.push('email')
    if (before.isActive !== after.isActive) fields.push('is_active')
    if (before.isSuperuser !== after.isSuperuser) fields.push('is_superuser')
    if (before.isVerified !== after.isVerified) fields.push('is_verified')
    return fields
  }

  return {
    /** Throws unless the actor may read administrative data (the audit trail's search, for one). */
    authorizeRead: (actor: Actor): void => authorize(actor, false),

    /** Every account, by id ascending, a page at a time (keyset: stable while rows are added). */
    async listUsers(actor: Actor, query: UserListQuery): Promise<UserPage> {
      authorize(actor, false)
      const limit = checkedLimit(query.limit, MAX_USER_PAGE)
      const after =
        query.cursor === undefined || query.cursor === null ? 0 : decodeCursor('users', query.cursor)
      const prefix = query.emailPrefix === undefined ? '' : normalizeEmail(query.emailPrefix)
      // PostgreSQL text cannot hold NUL: refused here rather than as a driver error.
      if (prefix.length > EMAIL_MAX_LENGTH || prefix.includes('\u0000')) {
        throw new GatehouseError('VALIDATION_FAILED', {
          detail: 'Not a usable email prefix',
          field: 'emailPrefix',
        })
      }
      const rows = await db
        .selectFrom('users')
        .select(USER_COLUMNS)
        .where('id', '>', after)
        // email_normalized is lower-cased, and so is the prefix: both engines compare exactly.
        .$if(prefix !== '', (qb) =>
          qb.where(sql<boolean>`email_normalized like ${likePrefix(prefix)} escape '\\'`),
        )
        .$if(query.isActive !== undefined, (qb) => qb.where('is_active', '=', query.isActive ? 1 : 0))
        .$if(query.isVerified !== undefined, (qb) => qb.where('is_verified', '=', query.isVerified ? 1 : 0))
        .orderBy('id')
        // One more than asked: whether another page exists, without a count.
        .limit(limit + 1)
        .execute()
      const users = rows.slice(0, limit).map(rowToUser)
      const last = users.at(-1)
      return { users, nextCursor: rows.length > limit && last ? encodeCursor('users', last.id) : null }
    },

    async getUser(actor: Actor, userId: number): Promise<User> {
      authorize(actor, false)
      return existingUser(db, userId)
    },

    /**
     * Changes flags and the email, decided in one locked transaction so the deployment always
     * keeps an active superuser (LAST_SUPERUSER). Then the user's cached contexts go everywhere:
     * a deactivation ends every session and API key at once (ASVS 5.0 V7.4.2); a superuser flag
     * granted or taken ends the user's sessions (OWASP Session Management Cheat Sheet, "Renew the
     * Session ID After Any Privilege Level Change": a session stolen before a promotion must not
     * become an administrator's, and a demoted one signs in again without the old power). API keys
     * survive a flag change: they never open admin routes, and they carry the user afresh.
     */
    async updateUser(actor: Actor, userId: number, changes: UserChanges): Promise<User> {
      authorize(actor, true)
      const picked = checkedChanges(changes)
      const losesPower = picked.isActive === false || picked.isSuperuser === false
      const { before, after } = await withSuperuserLock(actor, async (executor) => {
        const before = await existingUser(executor, userId)
        let after = before
        if (picked.email !== undefined) {
          after = await updateEmail(executor, userId, picked.email)
          if (normalizeEmail(after.email) !== normalizeEmail(before.email)) {
            // Links mailed to the old address must not verify or reset anything any more.
            await deleteUserOneTimeTokens(executor, userId)
            if (context.sendsMail) {
              await enqueueMail(executor, { purpose: 'email-changed', recipient: before.email, userId })
              if (picked.isVerified !== true) {
                await enqueueMail(executor, { purpose: 'verify-email', recipient: after.email, userId })
              }
            }
          }
        }
        const flags = {
          ...(picked.isActive === undefined ? {} : { is_active: picked.isActive ? 1 : 0 }),
          ...(picked.isSuperuser === undefined ? {} : { is_superuser: picked.isSuperuser ? 1 : 0 }),
          ...(picked.isVerified === undefined ? {} : { is_verified: picked.isVerified ? 1 : 0 }),
        }
        if (Object.keys(flags).length > 0) {
          const row = await executor
            .updateTable('users')
            .set({ ...flags, updated_at: Date.now() })
            .where('id', '=', userId)
            .$if(losesPower, (qb) => qb.where(keepsASuperuser(userId)))
            .returning(USER_COLUMNS)
            .executeTakeFirst()
          // The row exists (read under the lock): only the condition can have refused it.
          if (!row) throw new GatehouseError('LAST_SUPERUSER')
          after = rowToUser(row)
        }
        return { before, after }
      })
      if (before.isActive && !after.isActive) await sessions.revokeUser(userId, { apiKeys: true })
      else if (before.isSuperuser !== after.isSuperuser) await sessions.revokeUser(userId, { apiKeys: false })
      else await sessions.forgetUser(userId)
      if (context.sendsMail && normalizeEmail(before.email) !== normalizeEmail(after.email))
        context.mailQueued()
      const fields = changedFields(before, after)
      emit('admin.user_updated', {
        ...actorDetails(actor, userId),
        reason: fields.length > 0 ? fields.join(',') : 'unchanged',
      })
      return after
    },

    /**
     * Deletes the account (its tokens, keys, links and mail cascade; its audit trail stays). The
     * sessions and keys are revoked first through `revokeUser`, so every instance drops them at
     * once; the delete itself carries the last-superuser condition, so a race lost after the
     * revocation leaves the account signed out, never the deployment without a superuser.
     */
    async deleteUser(actor: Actor, userId: number): Promise<void> {
      authorize(actor, true)
      const target = await existingUser(db, userId)
      // Checked before anything is revoked, so the common refusal has no side effect.
      if (target.isActive && target.isSuperuser) {
        const other = await db
          .selectFrom('users')
          .select('id')
          .where('id', '<>', userId)
          .where('is_active', '=', 1)
          .where('is_superuser', '=', 1)
          .limit(1)
          .executeTakeFirst()
        if (!other) throw new GatehouseError('LAST_SUPERUSER')
      }
      await sessions.revokeUser(userId, { apiKeys: true })
      await withSuperuserLock(actor, async (executor) => {
        const deleted = await executor
          .deleteFrom('users')
          .where('id', '=', userId)
          .where(keepsASuperuser(userId))
          .returning('id')
          .executeTakeFirst()
        if (deleted) return
        await existingUser(executor, userId)
        throw new GatehouseError('LAST_SUPERUSER')
      })
      // A context cached between the revocation and the delete dies too.
      await sessions.forgetUser(userId)
      emit('admin.user_deleted', { ...actorDetails(actor, userId), reason: actorReason(actor) })
    },

    /** The user's live sessions (ASVS 5.0 V7.4.5: an administrator can see and end them). */
    async listUserSessions(actor: Actor, userId: number): Promise<SessionSummary[]> {
      authorize(actor, false)
      await existingUser(db, userId)
      return sessions.list(userId, null)
    },

    /** Ends every session of the user (not the API keys); returns how many ended. */
    async revokeUserSessions(actor: Actor, userId: number): Promise<number> {
      authorize(actor, true)
      await existingUser(db, userId)
      const count = await sessions.revokeUser(userId, { apiKeys: false })
      emit('admin.sessions_revoked', { ...actorDetails(actor, userId), reason: actorReason(actor) })
      return count
    },

    /**
     * Every session of every user ends (API keys stay: they are revoked one by one, or with their
     * owner): the response to a leaked database or signing secret (ASVS 5.0 V7.4.5).
     */
    async revokeEverySession(actor: Actor): Promise<number> {
      authorize(actor, true)
      // The superuser's own session stays: who ends everyone else's must not be locked out by it.
      const count = await sessions.revokeEverySession(actor.session?.tokenId)
      emit('admin.sessions_revoked', {
        ...actorDetails(actor, null),
        reason: `${actorReason(actor)}:all_users`,
      })
      return count
    },

    async listUserApiKeys(actor: Actor, userId: number): Promise<ApiKeySummary[]> {
      authorize(actor, false)
      await existingUser(db, userId)
      return sessions.listApiKeys(userId)
    },

    /** Ends one of the user's keys; NOT_FOUND when the key is not that user's. */
    async revokeUserApiKey(actor: Actor, userId: number, keyId: string): Promise<void> {
      authorize(actor, true)
      // Public ids are 22 base64url characters: anything else names no key (and never reaches a driver).
      if (!isValidId(userId) || !PUBLIC_ID.test(keyId) || !(await sessions.revokeApiKey(userId, keyId))) {
        throw new GatehouseError('NOT_FOUND')
      }
      // The key's public id, never the key: which one ended, and that an administrator ended it.
      emit('api_key.revoked', { ...actorDetails(actor, userId), reason: `${actorReason(actor)}:${keyId}` })
    },
  }
}

export type Administration = ReturnType<typeof createAdministration>
