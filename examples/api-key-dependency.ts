/**
 * The book's API key dependency app (chapter 7, `chapter07_api_key_header_dependency.py`): the key
 * check lives in one reusable `api_token` dependency, attached to routes with
 * `dependencies=[Depends(api_token)]` — here an `apiToken` hook listed in a route's `onRequest`.
 * Gatehouse adds: the key comes from the environment, constant-time comparison, one answer (403)
 * for a missing or wrong key, and every route listing `apiToken` gets the lock in the docs.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import { apiKeyHeader, gatehouseErrorHandler, type SecurityDependency } from '../src/index.ts'

/** The reusable dependency: list it in `onRequest` of every route that needs the key. */
export function apiTokenDependency(token: string): SecurityDependency {
  return apiKeyHeader({ name: 'Token', keys: [token], errorStatus: 403 })
}

export async function build(): Promise<FastifyInstance> {
  // The book's hard-coded value, kept only as a development default: set API_TOKEN in real use.
  const apiToken = apiTokenDependency(process.env.API_TOKEN ?? 'SECRET_API_TOKEN')
  const app = Fastify({ logger: false })
  app.setErrorHandler(gatehouseErrorHandler)

  app.get('/protected-route', { onRequest: [apiToken] }, async () => ({ hello: 'world' }))
  return app
}
