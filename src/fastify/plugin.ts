import fastifyCookie from '@fastify/cookie'
import fastifyFormbody from '@fastify/formbody'
import type { FastifyInstance } from 'fastify'
import fastifyPlugin from 'fastify-plugin'
import type { Accounts } from '../accounts/index.ts'
import type { CookieNames, GatehouseContext } from './decorations.ts'
import { gatehouseErrorHandler, gatehouseNotFoundHandler } from './error-handler.ts'
import { ErrorSchema, PublicUserSchema } from './schemas.ts'
import { securityRegistryPlugin } from './security/openapi-registry.ts'

export interface GatehousePluginOptions {
  accounts: Accounts
  /** Development keeps the book's names (`token`, `csrftoken`); production uses `__Host-` names. */
  cookies?: Partial<CookieNames>
}

export const DEVELOPMENT_COOKIES: CookieNames = { session: 'token', csrf: 'csrftoken' }
// RFC 6265bis §4.1.3.2: `__Host-` cookies must be Secure, Path=/ and host-only (no Domain).
export const PRODUCTION_COOKIES: CookieNames = { session: '__Host-token', csrf: '__Host-csrftoken' }

async function gatehouse(app: FastifyInstance, options: GatehousePluginOptions): Promise<void> {
  if (!options.accounts) throw new TypeError('gatehouse plugin: the "accounts" option is required')
  const context: GatehouseContext = {
    accounts: options.accounts,
    cookies: { ...DEVELOPMENT_COOKIES, ...options.cookies },
  }
  app.decorate('gatehouse', context)
  app.decorateRequest('auth', null)
  app.decorateRequest('user', null)

  if (!app.hasPlugin('@fastify/cookie')) await app.register(fastifyCookie)
  if (!app.hasPlugin('@fastify/formbody')) await app.register(fastifyFormbody)
  await app.register(securityRegistryPlugin)

  app.addSchema(PublicUserSchema)
  app.addSchema(ErrorSchema)
  app.setErrorHandler(gatehouseErrorHandler)
  app.setNotFoundHandler(gatehouseNotFoundHandler)
}

export const gatehousePlugin = fastifyPlugin(gatehouse, { name: 'gatehouse', fastify: '5.x' })
