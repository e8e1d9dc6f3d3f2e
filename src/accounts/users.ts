import { type Kysely, sql, type Transaction } from 'kysely'
import { GatehouseError } from '../core/errors.ts'
import type { Database } from '../store/schema.ts'
import { isUniqueViolation } from '../store/unique-violation.ts'
import { normalizeEmail, rowToUser, USER_COLUMNS, type User } from './user.ts'

export interface NewUser {
  email: string
  hashedPassword: string
  isSuperuser?: boolean
  isVerified?: boolean
}

/**
 * Inserts a user. Uniqueness is decided by the database's unique index, not by a prior SELECT,
 * so concurrent registrations of one email create exactly one account (no check-then-act race).
 */
export async function insertUser(
  db: Kysely<Database> | Transaction<Database>,
  user: NewUser,
  now = Date.now(),
): Promise<User> {
  try {
    const row = await db
      .insertInto('users')
      .values({
        email: user.email.trim(),
        email_normalized: normalizeEmail(user.email),
        hashed_password: user.hashedPassword,
        is_active: 1,
        is_superuser: user.isSuperuser ? 1 : 0,
        is_verified: user.isVerified ? 1 : 0,
        created_at: now,
        updated_at: now,
      })
      .returning(USER_COLUMNS)
      .executeTakeFirstOrThrow()
    return rowToUser(row)
  } catch (error) {
    if (isUniqueViolation(error)) throw new GatehouseError('EMAIL_EXISTS')
    throw error
  }
}

export async function findUserById(
  db: Kysely<Database> | Transaction<Database>,
  id: number,
): Promise<User | null> {
  const row = await db.selectFrom('users').select(USER_COLUMNS).where('id', '=', id).executeTakeFirst()
  return row ? rowToUser(row) : null
}

/** The user and the stored hash, for login only. */
export async function findCredentialsByEmail(
  db: Kysely<Database>,
  email: string,
): Promise<{ user: User; hashedPassword: string } | null> {
  // PostgreSQL text cannot hold NUL, so no stored email has one: answer "unknown", not a driver error.
  if (email.includes('\u0000')) return null
  const row = await db
    .selectFrom('users')
    .select([...USER_COLUMNS, 'hashed_password'])
    .where('email_normalized', '=', normalizeEmail(email))
    .executeTakeFirst()
  return row ? { user: rowToUser(row), hashedPassword: row.hashed_password } : null
}

export async function updatePasswordHash(
  db: Kysely<Database> | Transaction<Database>,
  userId: number,
  hashedPassword: string,
  now = Date.now(),
): Promise<void> {
  await db
    .updateTable('users')
    .set({ hashed_password: hashedPassword, updated_at: now })
    .where('id', '=', userId)
    .execute()
}

/**
 * Replaces the stored hash only while it is still `expected` (compare-and-swap): true when it was.
 * A login's rehash uses it, so it can never write the old password's hash over a new one.
 */
export async function replacePasswordHash(
  db: Kysely<Database>,
  userId: number,
  expected: string,
  hashedPassword: string,
  now = Date.now(),
): Promise<boolean> {
  const result = await db
    .updateTable('users')
    .set({ hashed_password: hashedPassword, updated_at: now })
    .where('id', '=', userId)
    .where('hashed_password', '=', expected)
    .executeTakeFirst()
  return Number(result.numUpdatedRows) === 1
}

export async function findPasswordHash(db: Kysely<Database>, userId: number): Promise<string | null> {
  const row = await db
    .selectFrom('users')
    .select('hashed_password')
    .where('id', '=', userId)
    .executeTakeFirst()
  return row?.hashed_password ?? null
}

/**
 * Changes the email, which is then unverified until the new address is proven. A taken email is
 * refused by the unique index (400, not the book's 500).
 */
export async function updateEmail(
  db: Kysely<Database> | Transaction<Database>,
  userId: number,
  email: string,
  now = Date.now(),
): Promise<User> {
  try {
    const row = await db
      .updateTable('users')
      .set({
        email: email.trim(),
        email_normalized: normalizeEmail(email),
        // Another address is unproven; the same one in other letter case is still the proven one.
        is_verified: sql<number>`case when email_normalized = ${normalizeEmail(email)} then is_verified else 0 end`,
        updated_at: now,
      })
      .where('id', '=', userId)
      .returning(USER_COLUMNS)
      .executeTakeFirst()
    if (!row) throw new GatehouseError('NOT_FOUND', { detail: 'User not found' })
    return rowToUser(row)
  } catch (error) {
    if (isUniqueViolation(error)) throw new GatehouseError('EMAIL_EXISTS')
    throw error
  }
}

/** Marks the email verified, only while it is still the address the token was mailed to. */
export async function markVerified(
  db: Kysely<Database> | Transaction<Database>,
  userId: number,
  emailNormalized: string,
  now = Date.now(),
): Promise<User | null> {
  const row = await db
    .updateTable('users')
    .set({ is_verified: 1, updated_at: now })
    .where('id', '=', userId)
    .where('email_normalized', '=', emailNormalized)
    .returning(USER_COLUMNS)
    .executeTakeFirst()
  return row ? rowToUser(row) : null
}

export async function updateActive(
  db: Kysely<Database>,
  userId: number,
  isActive: boolean,
  now = Date.now(),
): Promise<User | null> {
  const row = await db
    .updateTable('users')
    .set({ is_active: isActive ? 1 : 0, updated_at: now })
    .where('id', '=', userId)
    .returning(USER_COLUMNS)
    .executeTakeFirst()
  return row ? rowToUser(row) : null
}

export async function deleteUser(db: Kysely<Database>, userId: number): Promise<boolean> {
  const result = await db.deleteFrom('users').where('id', '=', userId).executeTakeFirst()
  return result.numDeletedRows > 0n
}
