import type { FastifyRequest } from 'fastify'
import { isGatehouseError } from '../../core/errors.ts'

/** The application's check of one credential. Only `true` grants access. */
export type CredentialVerifier<C> = (credential: C, request: FastifyRequest) => Promise<boolean> | boolean

/**
 * A verify callback failed for a reason that is not an authentication answer (database down, bug).
 * Wrapping it keeps the original as `cause` for the log while guaranteeing a generic 500: an error
 * carrying its own `statusCode` or message must not reach the client (OWASP Error Handling Cheat
 * Sheet: no internal details in responses).
 */
export class VerifyCallbackError extends Error {
  constructor(cause: unknown) {
    super('security dependency: verify callback threw', { cause })
    this.name = 'VerifyCallbackError'
  }
}

/**
 * Runs the callback. Strict `=== true`: a callback that forgets to return, or returns a user
 * object or a pending promise's wrapper, denies instead of granting (fail closed). GatehouseErrors
 * pass through untouched so a callback can answer e.g. FORBIDDEN or INACTIVE_USER itself.
 */
export async function isVerified<C>(
  verify: CredentialVerifier<C>,
  credential: C,
  request: FastifyRequest,
): Promise<boolean> {
  try {
    return (await verify(credential, request)) === true
  } catch (error) {
    if (isGatehouseError(error)) throw error
    throw new VerifyCallbackError(error)
  }
}
