import type { FastifyReply, FastifyRequest } from 'fastify'
import { GatehouseError } from '../core/errors.ts'
import { type CurrentUserOptions, currentUser } from './current-user.ts'
import { defineSecurityDependency, type SecurityDependency } from './security/types.ts'

/**
 * The signed-in superuser: `currentUser` (bearer token or session cookie; an API key is refused,
 * as the route names no scope), then 403 SUPERUSER_REQUIRED for anyone else. Checked at the edge so
 * a non-superuser's request is refused before any body is read or any work is done; the domain
 * checks again (OWASP Authorization Cheat Sheet: deny by default, at every layer).
 */
export function requireSuperuser(options: Omit<CurrentUserOptions, 'scopes'>): SecurityDependency {
  const authenticated = currentUser(options)
  async function superuser(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    await authenticated(request, reply)
    const auth = request.auth
    if (auth === null) throw new GatehouseError('NOT_AUTHENTICATED')
    if (auth.kind === 'api_key') throw new GatehouseError('API_KEY_NOT_ALLOWED')
    if (!auth.user.isSuperuser || !auth.user.isActive) throw new GatehouseError('SUPERUSER_REQUIRED')
  }
  return defineSecurityDependency(superuser, authenticated.securitySchemes)
}
