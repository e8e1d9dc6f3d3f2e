import type { FastifyRequest } from 'fastify'
import type { ClientInfo } from '../accounts/events.ts'

/**
 * Who is asking, as the domain needs it: `request.ip` is the client's address only through the
 * proxies Fastify's `trustProxy` names (X-Forwarded-For is client-controlled otherwise), and the
 * raw User-Agent, which the domain summarises before storing.
 */
export function clientOf(request: FastifyRequest): ClientInfo {
  return { ip: request.ip, userAgent: request.headers['user-agent'] ?? null }
}
