import type { FastifyInstance, FastifyReply } from 'fastify'
import fastifyPlugin from 'fastify-plugin'
import { type CorsPolicyOptions, createCorsPolicy } from '../../core/cors/index.ts'
import { GatehouseError } from '../../core/errors.ts'

/** The Vary value with `Origin` added once (RFC 9110 §12.5.5: a list, case-insensitive). */
function varyWithOrigin(reply: FastifyReply): string | null {
  const current = reply.getHeader('vary')
  if (current === undefined || current === '') return 'Origin'
  const value = Array.isArray(current) ? current.join(', ') : String(current)
  if (value === '*') return null
  const names = value.split(',').map((name) => name.trim().toLowerCase())
  return names.includes('origin') || names.includes('*') ? null : `${value}, Origin`
}

/**
 * CORS driven by our validated policy: an exact allowlist, credentials on, `*` with credentials
 * refused at boot (by createCorsPolicy). The same answers @fastify/cors gave with `strictPreflight`
 * and a reflected allowlisted origin, in one callback hook whose headers are built at boot: the
 * library's hook copied its options and built the route options twice on every request, about a
 * tenth of an authenticated request's own work. Registered before the CSRF and auth hooks so their
 * 403/401 answers carry the CORS headers and the front end can read why it was refused.
 * Fetch standard, "CORS protocol": the answer depends on `Origin`, hence `Vary: Origin` on every
 * response, allowed or not, so no cache hands one origin's answer to another.
 */
async function cors(app: FastifyInstance, options: CorsPolicyOptions): Promise<void> {
  const policy = createCorsPolicy(options)
  const allowed: Record<string, string> = {}
  if (policy.credentials) allowed['access-control-allow-credentials'] = 'true'
  // An empty list would still send an empty Access-Control-Expose-Headers.
  if (policy.exposedHeaders.length > 0) {
    allowed['access-control-expose-headers'] = policy.exposedHeaders.join(', ')
  }
  const preflight: Record<string, string> = {
    'access-control-allow-methods': policy.methods.join(', '),
    'access-control-allow-headers': policy.allowedHeaders.join(', '),
    'access-control-max-age': String(policy.maxAgeSeconds),
    // Safari waits for a body on a 204 without it.
    'content-length': '0',
  }

  app.addHook('onRequest', (request, reply, done) => {
    const vary = varyWithOrigin(reply)
    if (vary !== null) reply.header('vary', vary)
    const origin = request.headers.origin
    // A refused origin gets no CORS header at all: the browser then withholds the answer.
    if (!policy.isAllowedOrigin(origin)) return done()
    // The request's own Origin, never `*`: credentialed responses must name the origin.
    reply.header('access-control-allow-origin', origin!).headers(allowed)
    if (request.method !== 'OPTIONS') return done()
    // A preflight is answered here, before any auth hook: the browser sends it without credentials.
    // An OPTIONS without Access-Control-Request-Method is no preflight the Fetch standard sends:
    // refused like any malformed request, in the API's own JSON through the error handler.
    if (!request.headers['access-control-request-method'])
      return done(new GatehouseError('MALFORMED_REQUEST'))
    reply.code(204).headers(preflight).send()
  })

  // Lets OPTIONS reach the hook on every path; one that is no preflight from an allowed origin
  // gets the 404 any unknown route gets.
  app.options('*', { schema: { hide: true } }, (_request, reply) => {
    reply.callNotFound()
  })
}

export const corsPlugin = fastifyPlugin(cors, { name: 'gatehouse-cors', fastify: '5.x' })
