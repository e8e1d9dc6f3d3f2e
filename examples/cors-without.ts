/**
 * The book's CORS app without CORS (chapter 7, `chapter07/cors/app_without_cors.py`): a GET and a
 * POST on `/`. Served on :8000 and called from a page on http://localhost:9000, the browser blocks
 * the responses: no `Access-Control-Allow-Origin` is ever sent. Compare with `cors-with`.
 */
import Fastify, { type FastifyInstance } from 'fastify'

export async function build(): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  app.get('/', async () => ({ detail: 'GET response' }))
  app.post('/', async (request) => ({ detail: 'POST response', input_payload: request.body }))
  return app
}
