import type { HeaderProfile } from '../../core/headers/index.ts'

/** Per-route opt-outs, in `config` of a route: `{ config: { securityHeaders: false, csrf: false } }`. */
declare module 'fastify' {
  interface FastifyContextConfig {
    /** Force a header profile, or false to send none of the security headers on this route. */
    securityHeaders?: HeaderProfile | false
    /** false exempts this route from the double-submit token check (never from Fetch Metadata). */
    csrf?: false
    /** Set by the CSRF plugin: the API-key cookies this route's security dependencies read. */
    credentialCookies?: string[]
  }
}
