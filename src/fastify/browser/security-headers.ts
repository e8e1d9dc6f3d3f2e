import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fastifyPlugin from 'fastify-plugin'
import {
  buildSecurityHeaders,
  type HeaderProfile,
  NO_STORE,
  type SecurityHeaderOptions,
} from '../../core/headers/index.ts'
import './route-config.ts'

export interface SecurityHeadersOptions {
  /** Always send HSTS (production behind TLS); it is also sent on any request that came over https. */
  hsts: boolean
  /** Responses under this prefix use the docs profile (Swagger UI). */
  docsPrefix?: string
  /** Extra or replaced headers per profile, e.g. the demo's connect-src. */
  overrides?: Partial<Record<HeaderProfile, SecurityHeaderOptions['overrides']>>
}

type HeaderObject = Record<string, string>

/** `/docs`, `/docs/…`, `/docs?…` — a whole path segment, not `/docs-private`. */
function isUnder(url: string, prefix: string): boolean {
  if (!url.startsWith(prefix)) return false
  const next = url.charAt(prefix.length)
  return next === '' || next === '/' || next === '?'
}

/**
 * One onSend hook writing a header set computed at boot (@fastify/helmet cost ~30 %
 * of an authenticated route's throughput here). The profile follows the response: HTML gets the
 * page CSP, everything else the API's `default-src 'none'`.
 */
async function securityHeaders(app: FastifyInstance, options: SecurityHeadersOptions): Promise<void> {
  const profiles: HeaderProfile[] = ['api', 'html', 'docs']
  const build = (profile: HeaderProfile, hsts: boolean): HeaderObject =>
    Object.fromEntries(buildSecurityHeaders({ profile, hsts, overrides: options.overrides?.[profile] }))
  const plain = Object.fromEntries(profiles.map((p) => [p, build(p, options.hsts)])) as Record<
    HeaderProfile,
    HeaderObject
  >
  const secure = Object.fromEntries(profiles.map((p) => [p, build(p, true)])) as Record<
    HeaderProfile,
    HeaderObject
  >
  const docsPrefix = options.docsPrefix ?? '/docs'

  function profileOf(request: FastifyRequest, reply: FastifyReply): HeaderProfile | false {
    const forced = request.routeOptions.config.securityHeaders
    if (forced !== undefined) return forced
    if (isUnder(request.url, docsPrefix)) return 'docs'
    const type = reply.getHeader('content-type')
    return typeof type === 'string' && type.startsWith('text/html') ? 'html' : 'api'
  }

  // A callback hook: an async one costs every response a promise and a microtask.
  app.addHook('onSend', (request, reply, payload, done) => {
    const profile = profileOf(request, reply)
    if (profile !== false) reply.headers((request.protocol === 'https' ? secure : plain)[profile])
    // Nothing about a signed-in user may be kept by a shared or browser cache (OWASP Session
    // Management Cheat Sheet, "Web content caching"; ASVS 5.0 V14.3.2).
    if (request.auth !== null) reply.header('cache-control', NO_STORE)
    done(null, payload)
  })
}

export const securityHeadersPlugin = fastifyPlugin(securityHeaders, {
  name: 'gatehouse-security-headers',
  fastify: '5.x',
})
