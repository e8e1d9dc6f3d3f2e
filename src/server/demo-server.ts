import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import Fastify, { type FastifyInstance } from 'fastify'
import { HTML_CSP, serializeCsp } from '../core/headers/index.ts'
import { securityHeadersPlugin } from '../fastify/browser/security-headers.ts'
import { gatehouseErrorHandler, gatehouseNotFoundHandler } from '../fastify/error-handler.ts'
import { gatehouseServerOptions } from '../fastify/server-options.ts'

export interface DemoOptions {
  /** Where the page sends its API calls, e.g. http://localhost:8000. */
  apiBaseUrl: string
  /** The folder of static files (default: the package's web/). */
  root?: string
}

const WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url))

/**
 * The paths the account mails link to (`${APP_URL}/reset-password#token=…`): the same page, which
 * reads the token from the fragment and shows the matching form.
 */
const MAIL_LINK_PATHS = ['/reset-password', '/verify-email'] as const

/**
 * The demo front end on its own origin, so CORS and CSRF are exercised for real. It runs under
 * the strict HTML CSP; connect-src names the API origin, the one place it may send requests.
 */
export async function buildDemoApp(options: DemoOptions): Promise<FastifyInstance> {
  const apiOrigin = new URL(options.apiBaseUrl).origin
  const app = Fastify({ ...gatehouseServerOptions(), logger: false })
  app.setErrorHandler(gatehouseErrorHandler)
  app.setNotFoundHandler(gatehouseNotFoundHandler)
  await app.register(securityHeadersPlugin, {
    hsts: false,
    overrides: {
      html: {
        'content-security-policy': serializeCsp({ ...HTML_CSP, 'connect-src': ["'self'", apiOrigin] }),
      },
    },
  })
  app.get('/config.json', () => ({ apiBaseUrl: apiOrigin }))
  await app.register(fastifyStatic, { root: options.root ?? WEB_ROOT, index: 'index.html' })
  for (const path of MAIL_LINK_PATHS) {
    app.get(path, {
      // A route's onSend runs after the security-headers hook, so this replaces its value. OWASP
      // Forgot Password Cheat Sheet, "URL tokens": the reset page sends no Referer. The token is
      // in the fragment, which no Referer carries (RFC 9110 §10.1.3); this covers the path too.
      onSend: async (_request, reply, payload) => {
        reply.header('referrer-policy', 'no-referrer')
        return payload
      },
      handler: (_request, reply) => reply.sendFile('index.html'),
    })
  }
  return app
}
