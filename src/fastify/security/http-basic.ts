import type { OpenAPIV3 } from 'openapi-types'
import { GatehouseError } from '../../core/errors.ts'
import { challenge, challengeHeaders, quotedString } from './challenge.ts'
import {
  hasControlCharacter,
  optionalString,
  requireFunction,
  requireOptionsObject,
  schemeNameOption,
} from './options.ts'
import { defineSecurityDependency, type SecurityDependency } from './types.ts'
import { type CredentialVerifier, isVerified } from './verify.ts'

export interface BasicCredentials {
  username: string
  password: string
}

export interface HttpBasicOptions {
  /** Protection space shown by browsers; RFC 7617 §2 makes `realm` REQUIRED in the challenge. */
  realm?: string
  schemeName?: string
  description?: string
  /**
   * Checks the pair. Compare secrets in constant time or with a password hasher; usernames and
   * passwords arrive exactly as sent (no Unicode normalisation here: the password module owns that
   * rule, so one normalisation applies everywhere — RFC 7617 §2.1 leaves it to the server).
   */
  verify: CredentialVerifier<BasicCredentials>
}

const DEFAULT_REALM = 'api'

/**
 * RFC 7617 §2: `credentials = "Basic" SP token68`, the token68 being the Base64 (RFC 4648 §4,
 * padded) of `user-id ":" password`. The scheme name is case-insensitive (RFC 9110 §11.1). A
 * strict pattern, because Buffer.from(…, 'base64') silently skips invalid characters.
 */
const BASIC_CREDENTIALS = /^basic +((?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?)$/i

// `fatal`: invalid UTF-8 is refused rather than turned into U+FFFD (which could collide).
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** The decoded pair, or null for anything that is not a well-formed Basic credential. */
export function parseBasicAuthorization(header: string | undefined): BasicCredentials | null {
  if (header === undefined) return null
  const match = BASIC_CREDENTIALS.exec(header)
  if (match === null) return null
  let userPass: string
  try {
    userPass = UTF8.decode(Buffer.from(match[1] ?? '', 'base64'))
  } catch {
    return null
  }
  // RFC 7617 §2: the user-id cannot contain a colon, so the first colon is the separator and the
  // password may contain colons.
  const colon = userPass.indexOf(':')
  // RFC 7617 §2: the user-id and password MUST NOT contain control characters.
  if (colon === -1 || hasControlCharacter(userPass)) return null
  return { username: userPass.slice(0, colon), password: userPass.slice(colon + 1) }
}

/** FastAPI's `HTTPBasic`: `Authorization: Basic base64(user:password)` (RFC 7617). */
export function httpBasic(input: HttpBasicOptions): SecurityDependency {
  const options = requireOptionsObject(input, 'httpBasic')
  const verify = requireFunction<CredentialVerifier<BasicCredentials>>(options.verify, 'verify')
  const realm = optionalString(options.realm, 'realm') ?? DEFAULT_REALM
  const description = optionalString(options.description, 'description')
  // RFC 7617 §2.1: charset="UTF-8" tells the client how to encode non-ASCII user-ids/passwords.
  const headers = challengeHeaders(
    challenge('Basic', [
      ['realm', quotedString(realm, 'realm')],
      ['charset', '"UTF-8"'],
    ]),
  )
  const definition: OpenAPIV3.HttpSecurityScheme = { type: 'http', scheme: 'basic' }
  if (description !== undefined) definition.description = description

  return defineSecurityDependency(
    async (request) => {
      const credentials = parseBasicAuthorization(request.headers.authorization)
      // Missing, other scheme or malformed: Basic has no "invalid_request"; every case is a fresh
      // challenge (RFC 9110 §11.6.1).
      if (credentials === null) throw new GatehouseError('NOT_AUTHENTICATED', { headers })
      if (!(await isVerified(verify, credentials, request))) {
        throw new GatehouseError('BAD_CREDENTIALS', { detail: 'Incorrect username or password', headers })
      }
    },
    [{ name: schemeNameOption(options.schemeName, 'HTTPBasic'), definition }],
  )
}
