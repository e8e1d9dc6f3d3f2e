import { isDeepStrictEqual } from 'node:util'
import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import type { OpenAPIV3 } from 'openapi-types'
import { isSecurityDependency, type SecurityDependency } from './types.ts'

export type SecuritySchemes = Record<string, OpenAPIV3.SecuritySchemeObject>
type SecurityRequirement = Record<string, string[]>

declare module 'fastify' {
  interface FastifyInstance {
    /** Every scheme declared by a security dependency on a route, by components name. */
    gatehouseSecuritySchemes: SecuritySchemes
  }
}

function securityDependenciesOf(onRequest: RouteOptions['onRequest']): SecurityDependency[] {
  if (onRequest === undefined) return []
  const hooks: unknown[] = Array.isArray(onRequest) ? onRequest : [onRequest]
  return hooks.filter(isSecurityDependency)
}

/**
 * OpenAPI 3.1 §4.8.30 (Security Requirement Object): the `security` array lists alternatives (any
 * one satisfies the operation) and the schemes inside one object must all be satisfied. One
 * dependency's schemes are alternatives; several dependencies all run as onRequest hooks, so they
 * combine as AND — the product of their alternatives. (FastAPI lists every dependency as its own
 * alternative, which documents "any one" where the server requires "all".)
 * Scope lists are empty: routes declare no scope requirement (non-oauth2 schemes need `[]` anyway).
 */
function requirementsFor(dependencies: readonly SecurityDependency[]): SecurityRequirement[] {
  let alternatives: SecurityRequirement[] = [{}]
  for (const dependency of dependencies) {
    // A dependency declaring no scheme leaves the others unchanged (never an empty array, which
    // OpenAPI reads as "no security").
    if (dependency.securitySchemes.length === 0) continue
    alternatives = alternatives.flatMap((partial) =>
      dependency.securitySchemes.map((scheme) => ({ ...partial, [scheme.name]: [] })),
    )
  }
  const unique = new Map(
    alternatives.map((requirement) => [Object.keys(requirement).sort().join('\n'), requirement]),
  )
  return [...unique.values()].filter((requirement) => Object.keys(requirement).length > 0)
}

function record(schemes: SecuritySchemes, dependency: SecurityDependency, route: string): void {
  for (const { name, definition } of dependency.securitySchemes) {
    // "__proto__" matches the components-key pattern but would set the prototype of a plain object.
    if (name === '__proto__')
      throw new Error(`security scheme name "__proto__" is not allowed (route ${route})`)
    const known = Object.hasOwn(schemes, name) ? schemes[name] : undefined
    if (known === undefined) {
      schemes[name] = definition
    } else if (!isDeepStrictEqual(known, definition)) {
      // One components name must mean one scheme, or the docs would describe the wrong credential.
      throw new Error(
        `security scheme "${name}" is declared twice with different definitions (route ${route}): ` +
          `${JSON.stringify(known)} vs ${JSON.stringify(definition)}; give one of them another schemeName`,
      )
    }
  }
}

/**
 * Gives every route whose `onRequest` holds a security dependency its OpenAPI `security` (the lock
 * in the docs) and collects the scheme definitions. Register it before the routes: onRoute hooks
 * only see routes added after them. Hooks added with `addHook('onRequest', …)` are not route
 * options and so are not seen; declare `schema.security` on such routes yourself.
 */
export const securityRegistryPlugin = fp(
  async (app: FastifyInstance) => {
    app.decorate('gatehouseSecuritySchemes', {} as SecuritySchemes)
    const schemes = app.gatehouseSecuritySchemes
    app.addHook('onRoute', (routeOptions) => {
      const dependencies = securityDependenciesOf(routeOptions.onRequest)
      if (dependencies.length === 0) return
      for (const dependency of dependencies)
        record(schemes, dependency, `${routeOptions.method} ${routeOptions.url}`)
      const schema = routeOptions.schema as (FastifySchema & { security?: unknown }) | undefined
      // An explicit `security` (even `[]`) is the route author's statement and wins.
      if (schema?.security !== undefined) return
      const security = requirementsFor(dependencies)
      if (security.length === 0) return
      // A new object: a schema shared by several routes must not receive one route's security.
      routeOptions.schema = { ...schema, security } as FastifySchema
    })
  },
  { name: 'gatehouse-security-registry', fastify: '5.x' },
)

/**
 * The schemes collected so far — a live view, filled as routes are registered.
 * For @fastify/swagger, pass it as `openapi.components.securitySchemes` (after
 * `await app.register(securityRegistryPlugin)`): swagger looks each route's scheme up in
 * components while it builds the operations, before `transformObject` runs, and fails on an
 * unknown name. Merging it again in `transformObject` is harmless.
 */
export function declaredSecuritySchemes(app: FastifyInstance): Readonly<SecuritySchemes> {
  if (!app.hasDecorator('gatehouseSecuritySchemes')) {
    throw new Error('declaredSecuritySchemes: register securityRegistryPlugin first')
  }
  return app.gatehouseSecuritySchemes
}
