import type { FastifyInstance } from 'fastify'

/** The caller's personal API keys: create (shown once), list, revoke. */
export async function apiKeyRoutes(_app: FastifyInstance): Promise<void> {}
