import type {} from '@fastify/cookie'
import type {} from '@fastify/swagger'
import type { AccessTokenContext, Accounts } from '../accounts/index.ts'
import type { User } from '../accounts/user.ts'
import type { CsrfTokens } from '../core/csrf/index.ts'
import type { SecurityDependency } from './security/types.ts'

/** How the current request was authenticated: sessions (cookies) need CSRF, bearer tokens don't. */
export interface RequestAuth extends AccessTokenContext {
  via: 'bearer' | 'cookie'
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `currentUser`; null until then and for anonymous requests. */
    auth: RequestAuth | null
    /** Shorthand for `auth.user`. */
    user: User | null
  }
  interface FastifyInstance {
    gatehouse: GatehouseContext
  }
}

export interface CookieNames {
  session: string
  csrf: string
}

export interface GatehouseContext {
  accounts: Accounts
  cookies: CookieNames
  /** CSRF token signer; null when the plugin was given no csrfSecret (no cookie sessions). */
  csrf: CsrfTokens | null
  /**
   * `onRequest: app.gatehouse.requireScopes('prefs:read')`: the signed-in user (bearer token or
   * this app's session cookie), or a personal API key holding every scope named.
   */
  requireScopes(...scopes: string[]): SecurityDependency
}
