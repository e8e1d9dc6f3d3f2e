import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import fastifyPlugin from 'fastify-plugin'
import { csrfRequestInterceptor } from './docs-csrf.ts'
import { declaredSecuritySchemes } from './security/openapi-registry.ts'

export interface DocsOptions {
  title?: string
  version?: string
  /** Mount the interactive UI here (the JSON document is always at /openapi.json). */
  routePrefix?: string
  /** Serve the UI (the document alone is still served when false). */
  ui?: boolean
}

/**
 * OpenAPI 3.1 document + Swagger UI. The security schemes are not written here: every security
 * dependency declares its own. Register after the gatehouse plugin.
 */
async function docs(app: FastifyInstance, options: DocsOptions): Promise<void> {
  await app.register(fastifySwagger, {
    // Shared schemas keep their own names (`User`, `Error`) in components instead of `def-0`.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
    openapi: {
      openapi: '3.1.0',
      info: { title: options.title ?? 'Gatehouse API', version: options.version ?? '0.1.0' },
      // A live object, filled as routes with security dependencies are registered: swagger looks
      // each route's scheme up here while building the document.
      components: { securitySchemes: declaredSecuritySchemes(app) as Record<string, never> },
    },
  })

  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger())

  if (options.ui ?? true) {
    await app.register(fastifySwaggerUi, {
      routePrefix: options.routePrefix ?? '/docs',
      // Cookies ride along, and unsafe calls carry a CSRF token, so Try it out works with sessions.
      uiConfig: {
        persistAuthorization: false,
        withCredentials: true,
        requestInterceptor: csrfRequestInterceptor,
      },
      staticCSP: false,
    })
  }
}

export const docsPlugin = fastifyPlugin(docs, { name: 'gatehouse-docs', fastify: '5.x' })
