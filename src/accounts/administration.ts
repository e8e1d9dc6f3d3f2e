import { GatehouseError } from '../core/errors.ts'
import type { ApiKeySummary } from './api-key-store.ts'
import type { DomainContext } from './domain-context.ts'
import type { ClientInfo } from './events.ts'
import type { AccessTokenContext, SessionSummary } from './session.ts'
import type { User } from './user.ts'

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

/** Superuser and operator use cases over every account. */
export function createAdministration(_context: DomainContext) {
  const notBuilt = (): never => {
    throw new GatehouseError('INTERNAL', { detail: 'administration is not built yet' })
  }
  return {
    listUsers: (_actor: Actor, _query: UserListQuery): Promise<UserPage> => notBuilt(),
    getUser: (_actor: Actor, _userId: number): Promise<User> => notBuilt(),
    updateUser: (_actor: Actor, _userId: number, _changes: UserChanges): Promise<User> => notBuilt(),
    deleteUser: (_actor: Actor, _userId: number): Promise<void> => notBuilt(),
    listUserSessions: (_actor: Actor, _userId: number): Promise<SessionSummary[]> => notBuilt(),
    revokeUserSessions: (_actor: Actor, _userId: number): Promise<number> => notBuilt(),
    listUserApiKeys: (_actor: Actor, _userId: number): Promise<ApiKeySummary[]> => notBuilt(),
    revokeUserApiKey: (_actor: Actor, _userId: number, _keyId: string): Promise<void> => notBuilt(),
  }
}

export type Administration = ReturnType<typeof createAdministration>
