import type { FastifyRequest } from 'fastify'
import { GatehouseError } from '../../core/errors.ts'
import { challenge, challengeHeaders, quotedString } from './challenge.ts'
import { type DeclaredScheme, defineSecurityDependency, type SecurityDependency } from './types.ts'
import { type CredentialVerifier, isVerified } from './verify.ts'

/**
 * RFC 6750 §2.1: `credentials = "Bearer" 1*SP b64token`,
 * `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
 * The scheme name is case-insensitive (RFC 9110 §11.1, formerly RFC 7235 §2.1), so `bearer` and
 * `BEARER` are accepted — unlike fastify-bearer-auth's rfc6750 mode, which wants `Bearer` exactly.
 */
const BEARER_CREDENTIALS = /^bearer +([A-Za-z0-9\-._~+/]+=*)$/i

/** The auth-scheme token is exactly "bearer" (not e.g. "bearerx"): what follows is no tchar. */
const BEARER_SCHEME = /^bearer(?![!#$%&'*+.^_`|~0-9A-Za-z-])/i

/**
 * error_description values: RFC 6750 §3 limits them to %x20-21 / %x23-5B / %x5D-7E, which these
 * fixed sentences respect.
 */
const MALFORMED_DESCRIPTION = 'The Authorization header is not a valid Bearer credential'
const INVALID_DESCRIPTION = 'The access token is invalid or expired'

export interface BearerChallenges {
  missing: Record<string, string>
  malformed: Record<string, string>
  invalid: Record<string, string>
}

export function bearerChallenges(realm: string | undefined): BearerChallenges {
  const realmParam: [string, string][] = realm === undefined ? [] : [['realm', quotedString(realm, 'realm')]]
  return {
    // RFC 6750 §3.1: a request without authentication gets no error code or other error information.
    missing: challengeHeaders(challenge('Bearer', realmParam)),
    malformed: challengeHeaders(
      challenge('Bearer', [
        ...realmParam,
        ['error', '"invalid_request"'],
        ['error_description', `"${MALFORMED_DESCRIPTION}"`],
      ]),
    ),
    invalid: challengeHeaders(
      challenge('Bearer', [
        ...realmParam,
        ['error', '"invalid_token"'],
        ['error_description', `"${INVALID_DESCRIPTION}"`],
      ]),
    ),
  }
}

/**
 * The token from `Authorization`, or a GatehouseError following RFC 6750 §3.1:
 * - no header, or another scheme (Basic, …): the request "lacks any authentication information"
 *   → 401 with a bare `Bearer` challenge;
 * - `Bearer` with no token, two tokens, a tab, or characters outside b64token: the request "is
 *   otherwise malformed" → `invalid_request`, which the resource server SHOULD answer with 400.
 * Only the header is read: a token in the query string (`access_token`, RFC 6750 §2.3) or a form
 * body (§2.2) is ignored — URLs leak into logs and history (RFC 6750 §5.3 "Don't pass bearer tokens
 * in page URLs"), and §2.3 says the URI method SHOULD NOT be used.
 */
export function readBearerToken(header: string | undefined, challenges: BearerChallenges): string {
  if (header === undefined || header.length === 0) {
    throw new GatehouseError('NOT_AUTHENTICATED', { headers: challenges.missing })
  }
  const match = BEARER_CREDENTIALS.exec(header)
  if (match !== null) return match[1] as string
  if (BEARER_SCHEME.test(header)) {
    throw new GatehouseError('MALFORMED_AUTHORIZATION', { headers: challenges.malformed })
  }
  throw new GatehouseError('NOT_AUTHENTICATED', { headers: challenges.missing })
}

/** The hook shared by httpBearer and oauth2PasswordBearer: same header, different OpenAPI scheme. */
export function bearerDependency(
  verify: CredentialVerifier<string>,
  realm: string | undefined,
  scheme: DeclaredScheme,
): SecurityDependency {
  const challenges = bearerChallenges(realm)
  return defineSecurityDependency(
    async (request: FastifyRequest) => {
      const token = readBearerToken(request.headers.authorization, challenges)
      if (!(await isVerified(verify, token, request))) {
        // RFC 6750 §3.1 invalid_token: "expired, revoked, malformed, or invalid" → 401.
        throw new GatehouseError('INVALID_TOKEN', { headers: challenges.invalid })
      }
    },
    [scheme],
  )
}
