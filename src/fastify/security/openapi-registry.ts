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
 * A scheme's scope list is what the route needs of it (empty: only a valid credential).
 */
function requirementsFor(dependencies: readonly SecurityDependency[]): SecurityRequirement[] {
  let alternatives: SecurityRequirement[] = [{}]
  for (const dependency of dependencies) {
    // A dependency declaring no scheme leaves the others unchanged (never an empty array, which
    // OpenAPI reads as "no security").
    if (dependency.securitySchemes.length === 0) continue
    alternatives = alternatives.flatMap((partial) =>
      dependency.securitySchemes.map((scheme) => ({ ...partial, [scheme.name]: [...(scheme.scopes ?? [])] })),
    )
  }
  const unique = new Map(
    alternatives.map((requirement) => [Object.keys(requirement).sort().join('\n'), requirement]),
  )
  return [...unique.values()].filter((requirement) => Object.keys(requirement).length > 0)
}

/**
 * One OAuth2 scheme serves routes needing different scopes: its `scopes` table is the union of
 * theirs, each described by the application's scope registry when it has one.
 */
function withScopeTable(
  definition: OpenAPIV3.SecuritySchemeObject,
  known: OpenAPIV3.SecuritySchemeObject | undefined,
  required: readonly string[],
  describe: (scope: string) => string,
): OpenAPIV3.SecuritySchemeObject {
  if (definition.type !== 'oauth2' || definition.flows.password === undefined) return definition
  const previous = known?.type === 'oauth2' ? (known.flows.password?.scopes ?? {}) : {}
  const scopes: Record<string, string> = { ...previous, ...definition.flows.password.scopes }
  for (const scope of required) scopes[scope] ??= describe(scope)
  return { ...definition, flows: { ...definition.flows, password: { ...definition.flows.password, scopes } } }
}

function record(
  schemes: SecuritySchemes,
  dependency: SecurityDependency,
  route: string,
  describe: (scope: string) => string,
): void {
  for (const scheme of dependency.securitySchemes) {
    const { name } = scheme
    // "__proto__" matches the components-key pattern but would set the prototype of a plain object.
    if (name === '__proto__')
      throw new Error(`security scheme name "__proto__" is not allowed (route ${route})`)
    const known = Object.hasOwn(schemes, name) ? schemes[name] : undefined
    const definition = withScopeTable(scheme.definition, known, scheme.scopes ?? [], describe)
    if (
      known === undefined ||
      isDeepStrictEqual(withScopeTable(known, definition, [], describe), definition)
    ) {
      schemes[name] = definition
    } else {
      // One components name must mean one scheme, or the docs would describe the wrong credential.
      throw new Error(
        `security scheme "${name}" is declared twice with different definitions (route ${route}): ` +
          `${JSON.stringify(known)} vs ${JSON.stringify(definition)}; give one of them another schemeName`,
      )
    }
  }
}

/**
 * The application's description of a scope. With the gatehouse plugin, a route needing a scope its
 * registry does not declare fails at boot, not at the first request that a key cannot pass.
 */
function scopeDescriber(app: FastifyInstance, route: string): (scope: string) => string {
  if (!app.hasDecorator('gatehouse')) return (scope) => scope
  const registry = app.gatehouse.accounts.scopes
  return (scope) => {
    const description = registry.descriptions[scope]
    if (description === undefined || !Object.hasOwn(registry.descriptions, scope)) {
      throw new Error(`route ${route} needs scope "${scope}", which defineScopes() does not declare`)
    }
    return description
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
      const route = `${routeOptions.method} ${routeOptions.url}`
      for (const dependency of dependencies) record(schemes, dependency, route, scopeDescriber(app, route))
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
