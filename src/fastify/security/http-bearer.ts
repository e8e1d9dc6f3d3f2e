import type { OpenAPIV3 } from 'openapi-types'
import { bearerDependency } from './bearer.ts'
import { optionalString, requireFunction, requireOptionsObject, schemeNameOption } from './options.ts'
import type { SecurityDependency } from './types.ts'
import type { CredentialVerifier } from './verify.ts'

export interface HttpBearerOptions {
  /** Checks the token (e.g. look up its SHA-256 in the store). Only `true` grants access. */
  verify: CredentialVerifier<string>
  /** Optional `realm` in challenges (RFC 6750 §3); omitted when not given. */
  realm?: string
  schemeName?: string
  /** OpenAPI hint about the token format, e.g. "JWT" or "opaque". */
  bearerFormat?: string
  description?: string
}

/** FastAPI's `HTTPBearer`: `Authorization: Bearer <token>` (RFC 6750 §2.1), documented as http/bearer. */
export function httpBearer(input: HttpBearerOptions): SecurityDependency {
  const options = requireOptionsObject(input, 'httpBearer')
  const verify = requireFunction<CredentialVerifier<string>>(options.verify, 'verify')
  const bearerFormat = optionalString(options.bearerFormat, 'bearerFormat')
  const description = optionalString(options.description, 'description')
  const definition: OpenAPIV3.HttpSecurityScheme = { type: 'http', scheme: 'bearer' }
  if (bearerFormat !== undefined) definition.bearerFormat = bearerFormat
  if (description !== undefined) definition.description = description
  return bearerDependency(verify, optionalString(options.realm, 'realm'), {
    name: schemeNameOption(options.schemeName, 'HTTPBearer'),
    definition,
  })
}
