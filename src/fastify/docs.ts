import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import fastifyPlugin from 'fastify-plugin'
import { DOCS_CSS, DOCS_FAVICON_SVG, DOCS_LOGO_SVG } from './docs-assets.ts'
import { csrfRequestInterceptor } from './docs-csrf.ts'
import { describeResponses } from './docs-responses.ts'
import { declaredSecuritySchemes } from './security/openapi-registry.ts'

export interface DocsOptions {
  title?: string
  version?: string
  /** Mount the interactive UI here. */
  routePrefix?: string
  /**
   * Serve the UI and the document at /openapi.json (default true). When false neither is routed
   * — the document tells a stranger every route and parameter — and `app.swagger()` still builds
   * it for tests and tooling.
   */
  expose?: boolean
}

export const OPENAPI_PATH = '/openapi.json'
export const DOCS_TITLE = 'Gatehouse API docs'

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
    // We only build OpenAPI 3 documents, so `openapiObject` is the one given.
    transformObject: (documentObject) =>
      describeResponses(
        'openapiObject' in documentObject ? documentObject.openapiObject : documentObject.swaggerObject,
      ),
  })

  if (!(options.expose ?? true)) return

  app.get(OPENAPI_PATH, { schema: { hide: true } }, () => app.swagger())

  const routePrefix = options.routePrefix ?? '/docs'
  const uiConfigPath = `${routePrefix}/ui-config.json`
  // Swagger UI merges a fetched configUrl over the initializer's own, which hard-codes the
  // plugin's `./json`: this is how the explore bar and the UI read /openapi.json.
  app.get(uiConfigPath, { schema: { hide: true } }, () => ({ url: OPENAPI_PATH }))

  await app.register(fastifySwaggerUi, {
    routePrefix,
    // Cookies ride along, and unsafe calls carry a CSRF token, so Try it out works with sessions.
    uiConfig: {
      configUrl: uiConfigPath,
      persistAuthorization: false,
      withCredentials: true,
      requestInterceptor: csrfRequestInterceptor,
    },
    logo: { type: 'image/svg+xml', content: DOCS_LOGO_SVG, href: routePrefix, target: '_self' },
    theme: {
      title: DOCS_TITLE,
      favicon: [
        {
          filename: 'favicon.svg',
          rel: 'icon',
          type: 'image/svg+xml',
          sizes: 'any',
          content: DOCS_FAVICON_SVG,
        },
      ],
      css: [{ filename: 'gatehouse.css', content: DOCS_CSS }],
    },
    staticCSP: false,
  })
}

export const docsPlugin = fastifyPlugin(docs, { name: 'gatehouse-docs', fastify: '5.x' })
