import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { ApiKeySummary } from '../../accounts/api-keys.ts'
import { clientOf } from '../client-info.ts'
import { currentUser } from '../current-user.ts'
import { ErrorRef } from '../schemas.ts'

// Only these fields reach the domain; anything else is a 422 naming it.
const CreateApiKeyBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    scopes: Type.Array(Type.String({ maxLength: 64 }), { minItems: 1, maxItems: 32 }),
    expires_in_days: Type.Integer({ minimum: 1 }),
    current_password: Type.Optional(Type.String({ maxLength: 4096 })),
  },
  { additionalProperties: false },
)

export const ApiKeySchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  scopes: Type.Array(Type.String()),
  prefix: Type.String({ description: 'The first characters of the key, to recognise it' }),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  expires_at: Type.String({ format: 'date-time' }),
})
const CreatedApiKeySchema = Type.Object({
  ...ApiKeySchema.properties,
  key: Type.String({ description: 'The key itself: shown this once, never again' }),
})
const ScopeSchema = Type.Object({ name: Type.String(), description: Type.String() })
/** A public key id is 22 base64url characters; nothing else is ever looked up. */
const ApiKeyIdParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9_-]{22}$' }) })

export function apiKeyToWire(key: ApiKeySummary): Static<typeof ApiKeySchema> {
  return {
    id: key.id,
    name: key.name,
    scopes: key.scopes,
    prefix: key.prefix,
    created_at: key.createdAt.toISOString(),
    last_used_at: key.lastUsedAt?.toISOString() ?? null,
    expires_at: key.expiresAt.toISOString(),
  }
}

/**
 * The caller's personal API keys. Managed with the user's own session or token only: a key
 * cannot reach these routes (it names no scope of theirs), so a leaked key cannot mint more.
 */
export async function apiKeyRoutes(app: FastifyInstance): Promise<void> {
  const { accounts, cookies } = app.gatehouse
  const authenticated = currentUser({ sessionCookie: cookies.session })
  const scopes = Object.entries(accounts.scopes.descriptions).map(([name, description]) => ({
    name,
    description,
  }))

  app.get(
    '/api-keys/scopes',
    {
      onRequest: authenticated,
      schema: {
        tags: ['api-keys'],
        summary: 'The scopes a key may carry',
        response: { 200: Type.Array(ScopeSchema), 401: ErrorRef, 403: ErrorRef },
      },
    },
    async () => scopes,
  )

  app.post<{ Body: Static<typeof CreateApiKeyBody> }>(
    '/api-keys',
    {
      onRequest: authenticated,
      schema: {
        tags: ['api-keys'],
        summary: `Create a key (shown once; needs a recent login or the current password; at most ${accounts.apiKeyMaxDays} days)`,
        body: CreateApiKeyBody,
        response: {
          201: CreatedApiKeySchema,
          401: ErrorRef,
          403: ErrorRef,
          409: ErrorRef,
          422: ErrorRef,
          429: ErrorRef,
        },
      },
    },
    async (request, reply) => {
      const { name, scopes: requested, expires_in_days: expiresInDays, current_password } = request.body
      const issued = await accounts.createApiKey({
        session: request.auth!,
        name,
        scopes: requested,
        expiresInDays,
        currentPassword: current_password,
        client: clientOf(request),
      })
      return reply.code(201).send({ ...apiKeyToWire(issued), key: issued.key })
    },
  )

  app.get(
    '/api-keys',
    {
      onRequest: authenticated,
      schema: {
        tags: ['api-keys'],
        summary: 'Your API keys (never the keys themselves)',
        response: { 200: Type.Array(ApiKeySchema), 401: ErrorRef, 403: ErrorRef },
      },
    },
    async (request) => (await accounts.listApiKeys(request.auth!)).map(apiKeyToWire),
  )

  app.delete<{ Params: Static<typeof ApiKeyIdParams> }>(
    '/api-keys/:id',
    {
      onRequest: authenticated,
      schema: {
        tags: ['api-keys'],
        summary: 'Revoke one of your keys (another user’s id is a 404)',
        params: ApiKeyIdParams,
        response: { 204: Type.Null(), 401: ErrorRef, 403: ErrorRef, 404: ErrorRef },
      },
    },
    async (request, reply) => {
      await accounts.revokeApiKey(request.auth!, request.params.id, clientOf(request))
      return reply.code(204).send()
    },
  )
}
