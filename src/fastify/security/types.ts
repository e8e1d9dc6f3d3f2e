import type { FastifyReply, FastifyRequest } from 'fastify'
import type { OpenAPIV3 } from 'openapi-types'

/** One OpenAPI security scheme a dependency declares, by the name it has in components. */
export interface DeclaredScheme {
  name: string
  definition: OpenAPIV3.SecuritySchemeObject
  /**
   * What the route needs of this scheme: OAuth2 scopes, or role names for other schemes (OpenAPI
   * 3.1 §4.8.30); listed in the route's security requirement.
   */
  scopes?: readonly string[]
}

/**
 * A "security dependency" (FastAPI's term): an onRequest hook that authenticates the request and
 * declares the OpenAPI scheme(s) it accepts. Several schemes are alternatives (OpenAPI: any one
 * of them satisfies the route).
 */
export interface SecurityDependency {
  (request: FastifyRequest, reply: FastifyReply): Promise<void>
  readonly securitySchemes: readonly DeclaredScheme[]
}

export function defineSecurityDependency(
  hook: (request: FastifyRequest, reply: FastifyReply) => Promise<void>,
  securitySchemes: readonly DeclaredScheme[],
): SecurityDependency {
  return Object.assign(hook, { securitySchemes })
}

export function isSecurityDependency(value: unknown): value is SecurityDependency {
  return typeof value === 'function' && Array.isArray((value as Partial<SecurityDependency>).securitySchemes)
}
