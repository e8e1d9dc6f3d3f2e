import fastifyCookie from '@fastify/cookie'
import fastifyFormbody from '@fastify/formbody'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fastifyPlugin from 'fastify-plugin'
import type { Accounts } from '../accounts/index.ts'
import type { CorsPolicyOptions } from '../core/cors/index.ts'
import { createCsrfTokens } from '../core/csrf/index.ts'
import { corsPlugin } from './browser/cors.ts'
import { csrfProtectionPlugin } from './browser/csrf-protection.ts'
import { type SecurityHeadersOptions, securityHeadersPlugin } from './browser/security-headers.ts'
import { clientOf } from './client-info.ts'
import { requireScopes } from './current-user.ts'
import type { CookieNames, GatehouseContext } from './decorations.ts'
import { gatehouseErrorHandler, gatehouseNotFoundHandler } from './error-handler.ts'
import { documentMultipart, MULTIPART, parseMultipartForm } from './multipart-form.ts'
import { ErrorSchema, PublicUserSchema } from './schemas.ts'
import { securityRegistryPlugin } from './security/openapi-registry.ts'

export interface GatehousePluginOptions {
  accounts: Accounts
  /** Development keeps the book's names (`token`, `csrftoken`); production uses `__Host-` names. */
  cookies?: Partial<CookieNames>
  /** HMAC key of the CSRF tokens: CSRF protection is on whenever it is given. */
  csrfSecret?: string
  /** Front ends on other origins: the CORS allowlist, also trusted by the CSRF origin check. */
  cors?: CorsPolicyOptions
  /** Security headers on every response (on unless false). */
  securityHeaders?: SecurityHeadersOptions | false
  /**
   * Parse multipart/form-data forms (text fields only, tight limits) on every route that takes a
   * urlencoded form, as FastAPI's `Form(...)` does (on unless false). Turn it off to register a
   * multipart plugin of your own (e.g. for uploads) after this one; one registered before is kept.
   */
  multipartForms?: boolean
}

export const DEVELOPMENT_COOKIES: CookieNames = { session: 'token', csrf: 'csrftoken' }
// RFC 6265bis §4.1.3.2: `__Host-` cookies must be Secure, Path=/ and host-only (no Domain).
export const PRODUCTION_COOKIES: CookieNames = { session: '__Host-token', csrf: '__Host-csrftoken' }

async function gatehouse(app: FastifyInstance, options: GatehousePluginOptions): Promise<void> {
  if (!options.accounts) throw new TypeError('gatehouse plugin: the "accounts" option is required')
  const cookies = { ...DEVELOPMENT_COOKIES, ...options.cookies }
  const csrf = options.csrfSecret === undefined ? null : createCsrfTokens(options.csrfSecret)
  const { accounts } = options
  const context: GatehouseContext = {
    accounts,
    cookies,
    csrf,
    requireScopes: (...scopes) => requireScopes(scopes, { sessionCookie: cookies.session }),
  }
  app.decorate('gatehouse', context)
  app.decorateRequest('auth', null)
  app.decorateRequest('user', null)

  // Order matters: CORS first so every refusal below still carries CORS headers (the front end
  // can read why), cookies before the CSRF check that reads them.
  // Before any plugin adds a route (the CORS plugin adds `OPTIONS *`): a route keeps the error
  // handler in force when it was added, and every error must leave through ours.
  app.setErrorHandler(gatehouseErrorHandler)
  app.setNotFoundHandler(gatehouseNotFoundHandler)
  if (options.cors) await app.register(corsPlugin, options.cors)
  if (!app.hasPlugin('@fastify/cookie')) await app.register(fastifyCookie)
  if (!app.hasPlugin('@fastify/formbody')) await app.register(fastifyFormbody)
  if (options.multipartForms !== false && !app.hasContentTypeParser(MULTIPART)) {
    app.addContentTypeParser(MULTIPART, parseMultipartForm)
    app.addHook('onRoute', documentMultipart)
  }
  if (csrf) {
    await app.register(csrfProtectionPlugin, {
      tokens: csrf,
      trustedOrigins: options.cors?.origins.filter((origin) => origin !== '*') ?? [],
      sessionCookie: cookies.session,
      csrfCookie: cookies.csrf,
      onRefused: (request, reason) => reportCsrfRefusal(accounts, cookies.session, request, reason),
    })
  }
  if (options.securityHeaders !== false) {
    await app.register(securityHeadersPlugin, options.securityHeaders ?? { hsts: false })
  }
  await app.register(securityRegistryPlugin)

  app.addSchema(PublicUserSchema)
  app.addSchema(ErrorSchema)
}

/** The refusal joins the audit trail, under the session's owner when the cookie names a live one. */
function reportCsrfRefusal(
  accounts: Accounts,
  sessionCookie: string,
  request: FastifyRequest,
  reason: string,
) {
  const client = clientOf(request)
  const token = request.cookies[sessionCookie]
  const session = token ? accounts.validateToken(token, 'session') : Promise.resolve(null)
  session
    .catch(() => null)
    .then((found) => accounts.report('csrf.refused', { session: found, client, reason }))
}

export const gatehousePlugin = fastifyPlugin(gatehouse, { name: 'gatehouse', fastify: '5.x' })
