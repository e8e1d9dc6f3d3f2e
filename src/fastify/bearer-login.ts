import type { FastifyRequest } from 'fastify'
import type { IssuedAccessToken } from '../accounts/session.ts'
import type { User } from '../accounts/user.ts'
import { GatehouseError, isGatehouseError } from '../core/errors.ts'
import { clientOf } from './client-info.ts'

const BEARER_CHALLENGE = { 'www-authenticate': 'Bearer' }

/**
 * Exchanges an email and password for a bearer token through `accounts.login` (brute-force
 * throttled per account and per client). A refusal names the scheme it expects, as the book's
 * OAuth2PasswordBearer does (RFC 6750 §3).
 */
export async function bearerLogin(
  request: FastifyRequest,
  credentials: { email: string; password: string },
): Promise<{ user: User; issued: IssuedAccessToken }> {
  try {
    return await request.server.gatehouse.accounts.login({
      ...credentials,
      kind: 'bearer',
      client: clientOf(request),
    })
  } catch (error) {
    if (isGatehouseError(error) && error.code === 'BAD_CREDENTIALS') {
      throw new GatehouseError('BAD_CREDENTIALS', { headers: BEARER_CHALLENGE })
    }
    throw error
  }
}
