import type { FastifyInstance } from 'fastify'
import fastifyPlugin from 'fastify-plugin'
import { GatehouseError } from '../core/errors.ts'
import { hostMatcher } from './allowed-hosts.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** true: this route answers whatever the Host header says (health probes). */
    anyHost?: boolean
  }
}

export interface HostAllowlistOptions {
  /** `name` (any port) or `name:port` entries; requests naming another host get a 400. */
  allowedHosts: readonly string[]
}

/**
 * DNS rebinding: a page on evil.com re-resolves its own name to our address, and the browser, still
 * believing it talks to evil.com, lets that page read our answers; the Host header is the one thing
 * that tells (OWASP WSTG-INPV-17 "Testing for Host Header Injection"; Django's ALLOWED_HOSTS). The
 * raw Host is checked, never X-Forwarded-Host, which the rebinding page itself can set. Routes with
 * `config: { anyHost: true }` skip it: health probes address pods by IP (the kubelet sends
 * `Host: <pod IP>:<port>`), and /healthz and /readyz reveal nothing a rebinding page could use.
 */
async function hostAllowlist(app: FastifyInstance, options: HostAllowlistOptions): Promise<void> {
  if (options.allowedHosts.length === 0) throw new TypeError('host allowlist: allowedHosts is empty')
  const allowed = hostMatcher(options.allowedHosts)
  app.addHook('onRequest', (request, _reply, done) => {
    // The route's config only when the Host is refused: `routeOptions` builds an object per read.
    if (allowed(request.headers.host) || request.routeOptions.config.anyHost === true) done()
    else done(new GatehouseError('INVALID_HOST'))
  })
}

export const hostAllowlistPlugin = fastifyPlugin(hostAllowlist, {
  name: 'gatehouse-host-allowlist',
  fastify: '5.x',
})
