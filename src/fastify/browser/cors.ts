import fastifyCors from '@fastify/cors'
import type { FastifyInstance } from 'fastify'
import fastifyPlugin from 'fastify-plugin'
import { type CorsPolicyOptions, createCorsPolicy } from '../../core/cors/index.ts'

/**
 * @fastify/cors driven by our validated policy: an exact allowlist, credentials on, `*` with
 * credentials refused at boot (by createCorsPolicy). Registered before the CSRF and auth hooks so
 * their 403/401 answers carry the CORS headers and the front end can read why it was refused.
 */
async function cors(app: FastifyInstance, options: CorsPolicyOptions): Promise<void> {
  const policy = createCorsPolicy(options)
  await app.register(fastifyCors, {
    origin: (origin, callback) => callback(null, policy.isAllowedOrigin(origin)),
    credentials: policy.credentials,
    methods: [...policy.methods],
    allowedHeaders: [...policy.allowedHeaders],
    // An empty list would still send an empty Access-Control-Expose-Headers.
    ...(policy.exposedHeaders.length > 0 ? { exposedHeaders: [...policy.exposedHeaders] } : {}),
    maxAge: policy.maxAgeSeconds,
    strictPreflight: true,
    hook: 'onRequest',
  })
}

export const corsPlugin = fastifyPlugin(cors, { name: 'gatehouse-cors', fastify: '5.x' })
