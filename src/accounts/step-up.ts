import { GatehouseError } from '../core/errors.ts'
import type { AccessTokenContext } from './session.ts'

/**
 * A session younger than the fresh window proves a recent login; past it, a sensitive change needs
 * the password again (OWASP Authentication Cheat Sheet, "Require re-authentication for sensitive
 * features"; ASVS 5.0 V7.5.1). An API key is never fresh: it was not a login.
 */
export function isFreshSession(
  session: AccessTokenContext,
  freshSessionSeconds: number,
  now = Date.now(),
): boolean {
  if (session.kind === 'api_key') return false
  return (now - session.createdAt.getTime()) / 1000 < freshSessionSeconds
}

/** For changes with no password to offer instead (a superuser's actions): a recent login only. */
export function assertFreshSession(session: AccessTokenContext, freshSessionSeconds: number): void {
  assertNotApiKey(session)
  if (!isFreshSession(session, freshSessionSeconds)) {
    throw new GatehouseError('FRESH_SESSION_REQUIRED', { detail: 'This change needs a recent login' })
  }
}

/**
 * Credentials, sessions and keys are managed by a person, never by a script's key: a leaked key
 * must not be able to mint more keys, change the password or the email, or end the owner's
 * sessions (least privilege; ASVS 5.0 V8.2.1).
 */
export function assertNotApiKey(session: AccessTokenContext): void {
  if (session.kind === 'api_key') throw new GatehouseError('API_KEY_NOT_ALLOWED')
}
