import type { Selectable } from 'kysely'
import type { UsersTable } from '../store/schema.ts'

export interface User {
  id: number
  email: string
  isActive: boolean
  isSuperuser: boolean
  isVerified: boolean
  createdAt: Date
  updatedAt: Date
}

/** What a client may see of a user: never the hash. snake_case like fastapi-users' UserRead. */
export interface PublicUser {
  id: number
  email: string
  is_active: boolean
  is_superuser: boolean
  is_verified: boolean
  created_at: string
}

export type UserRow = Omit<Selectable<UsersTable>, 'hashed_password' | 'email_normalized'>

/** The one place a users row becomes a domain object. */
export function rowToUser(row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    isActive: row.is_active === 1,
    isSuperuser: row.is_superuser === 1,
    isVerified: row.is_verified === 1,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  }
}

// Users are immutable values, and the token cache hands out the same one for many requests.
const publicUsers = new WeakMap<User, PublicUser>()

export function toPublicUser(user: User): PublicUser {
  let publicUser = publicUsers.get(user)
  if (publicUser === undefined) {
    publicUser = buildPublicUser(user)
    publicUsers.set(user, publicUser)
  }
  return publicUser
}

function buildPublicUser(user: User): PublicUser {
  return {
    id: user.id,
    email: user.email,
    is_active: user.isActive,
    is_superuser: user.isSuperuser,
    is_verified: user.isVerified,
    created_at: user.createdAt.toISOString(),
  }
}

/**
 * Emails compare case-insensitively. Lower-casing the whole address (not only the domain) is what
 * users expect; RFC 5321 §2.4 allows case-sensitive local parts but no mainstream provider uses them.
 */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase()
}

export const USER_COLUMNS = [
  'id',
  'email',
  'is_active',
  'is_superuser',
  'is_verified',
  'created_at',
  'updated_at',
] as const

/** The same, from `users as u` joined to a token or key row. */
export const JOINED_USER_COLUMNS = [
  'u.id',
  'u.email',
  'u.is_active',
  'u.is_superuser',
  'u.is_verified',
  'u.created_at',
  'u.updated_at',
] as const
