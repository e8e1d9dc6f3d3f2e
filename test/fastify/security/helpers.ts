import fastifyCookie from '@fastify/cookie'
import Fastify, { type FastifyInstance } from 'fastify'
import { gatehouseErrorHandler } from '../../../src/fastify/error-handler.ts'
import type { SecurityDependency } from '../../../src/fastify/security/index.ts'

/** An app with one route, GET /protected, guarded by the dependency (and cookies parsed). */
export async function appWith(dependency: SecurityDependency): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  app.setErrorHandler(gatehouseErrorHandler)
  await app.register(fastifyCookie)
  app.get('/protected', { onRequest: dependency }, async () => ({ ok: true }))
  await app.ready()
  return app
}

export function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64')
}
