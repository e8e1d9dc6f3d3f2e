import { type Static, type TSchema, Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Actor, UserChanges } from '../../accounts/administration.ts'
import type { AuditLog, AuditRecord } from '../../accounts/audit-log.ts'
import { toPublicUser } from '../../accounts/user.ts'
import { EMAIL_MAX_LENGTH } from '../../core/email/index.ts'
import { GatehouseError, isGatehouseError } from '../../core/errors.ts'
import { clientOf } from '../client-info.ts'
import { requireSuperuser } from '../require-superuser.ts'
import { Email, ErrorRef, UserRef } from '../schemas.ts'
import { ApiKeySchema, apiKeyToWire } from './api-key-routes.ts'
import { SessionSummarySchema, sessionSummaryToWire } from './session-list-routes.ts'

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])
const DateTime = Type.String({ format: 'date-time' })
/** Query values are strings (no type coercion): a boolean is spelled out, nothing else is taken. */
const QueryBoolean = Type.Union([Type.Literal('true'), Type.Literal('false')])
const QueryLimit = Type.String({ pattern: '^[0-9]{1,3}$' })
const Cursor = Type.String({ maxLength: 64 })
/** Row ids are integers; anything else is a 422 before any lookup (never a driver error). */
const UserIdParams = Type.Object({ id: Type.String({ pattern: '^[0-9]{1,10}$' }) })
/** A public key id is 22 base64url characters. */
const ApiKeyParams = Type.Object({
  id: UserIdParams.properties.id,
  key_id: Type.String({ pattern: '^[A-Za-z0-9_-]{22}$' }),
})

const UserListQuerySchema = Type.Object(
  {
    limit: Type.Optional(QueryLimit),
    cursor: Type.Optional(Cursor),
    email_prefix: Type.Optional(Type.String({ minLength: 1, maxLength: EMAIL_MAX_LENGTH })),
    is_active: Type.Optional(QueryBoolean),
    is_verified: Type.Optional(QueryBoolean),
  },
  { additionalProperties: false },
)
const UserPageSchema = Type.Object({ users: Type.Array(UserRef), next_cursor: Nullable(Type.String()) })

// Exactly what a superuser may set: `hashed_password`, `id` or anything else is a 422 naming it
// (OWASP Mass Assignment Cheat Sheet), and an empty body changes nothing, so it is a 422 too.
const UpdateUserBody = Type.Object(
  {
    is_active: Type.Optional(Type.Boolean()),
    is_verified: Type.Optional(Type.Boolean()),
    is_superuser: Type.Optional(Type.Boolean()),
    email: Type.Optional(Email),
  },
  { additionalProperties: false, minProperties: 1 },
)

const AuditQuerySchema = Type.Object(
  {
    user_id: Type.Optional(UserIdParams.properties.id),
    type: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    since: Type.Optional(DateTime),
    until: Type.Optional(DateTime),
    limit: Type.Optional(QueryLimit),
    cursor: Type.Optional(Cursor),
  },
  { additionalProperties: false },
)
const AuditEventSchema = Type.Object({
  id: Type.Integer(),
  at: DateTime,
  type: Type.String(),
  user_id: Nullable(Type.Integer()),
  actor_id: Nullable(Type.Integer()),
  session_id: Nullable(Type.String()),
  ip: Nullable(Type.String()),
  user_agent: Nullable(Type.String()),
  reason: Nullable(Type.String()),
})
const AuditPageSchema = Type.Object({
  events: Type.Array(AuditEventSchema),
  next_cursor: Nullable(Type.String()),
})

const DEFAULT_USER_PAGE = 50
const DEFAULT_AUDIT_PAGE = 50

function auditToWire(entry: AuditRecord): Static<typeof AuditEventSchema> {
  return {
    id: entry.id,
    at: entry.at.toISOString(),
    type: entry.type,
    user_id: entry.userId,
    actor_id: entry.actorId,
    session_id: entry.sessionId,
    ip: entry.ip,
    user_agent: entry.userAgent,
    reason: entry.reason,
  }
}

/** The domain's names for query parameters, and theirs on the wire. */
const QUERY_FIELDS: Readonly<Record<string, string>> = {
  limit: 'limit',
  cursor: 'cursor',
  emailPrefix: 'email_prefix',
  userId: 'user_id',
  type: 'type',
  since: 'since',
  until: 'until',
}

/** A domain refusal of a query value, placed where the schema's own errors place it: `loc: ['querystring', name]`. */
async function fromQuery<T>(work: Promise<T>): Promise<T> {
  try {
    return await work
  } catch (error) {
    const wire = isGatehouseError(error) && error.field !== undefined ? QUERY_FIELDS[error.field] : undefined
    if (wire === undefined || !isGatehouseError(error)) throw error
    throw new GatehouseError(error.code, {
      detail: [{ loc: ['querystring', wire], msg: error.message, type: 'value_error' }],
    })
  }
}

const flag = (value: 'true' | 'false' | undefined) => (value === undefined ? undefined : value === 'true')

/**
 * Superuser routes over every account and the audit trail: translation only; every rule (who may,
 * fresh login for a change, the last superuser, what a change ends) is the domain's.
 */
export async function adminRoutes(app: FastifyInstance, options: { trail: AuditLog }): Promise<void> {
  const { accounts, cookies } = app.gatehouse
  const { admin } = accounts
  const superuser = requireSuperuser({ sessionCookie: cookies.session })
  const actorOf = (request: FastifyRequest): Actor => ({ session: request.auth!, client: clientOf(request) })
  const userIdOf = (request: FastifyRequest<{ Params: { id: string } }>) => Number(request.params.id)
  const read = { 401: ErrorRef, 403: ErrorRef, 404: ErrorRef, 422: ErrorRef }
  const change = { ...read, 409: ErrorRef }

  app.get<{ Querystring: Static<typeof UserListQuerySchema> }>(
    '/admin/users',
    {
      onRequest: superuser,
      schema: {
        tags: ['admin'],
        summary: 'Every account, by id, a page at a time',
        querystring: UserListQuerySchema,
        response: { 200: UserPageSchema, 401: ErrorRef, 403: ErrorRef, 422: ErrorRef },
      },
    },
    async (request) => {
      const query = request.query
      const page = await fromQuery(
        admin.listUsers(actorOf(request), {
          limit: query.limit === undefined ? DEFAULT_USER_PAGE : Number(query.limit),
          cursor: query.cursor,
          emailPrefix: query.email_prefix,
          isActive: flag(query.is_active),
          isVerified: flag(query.is_verified),
        }),
      )
      return { users: page.users.map(toPublicUser), next_cursor: page.nextCursor }
    },
  )

  app.get<{ Params: Static<typeof UserIdParams> }>(
    '/admin/users/:id',
    {
      onRequest: superuser,
      schema: {
        tags: ['admin'],
        summary: 'One account',
        params: UserIdParams,
        response: { 200: UserRef, ...read },
      },
    },
    async (request) => toPublicUser(await admin.getUser(actorOf(request), userIdOf(request))),
  )

  app.patch<{ Params: Static<typeof UserIdParams>; Body: Static<typeof UpdateUserBody> }>(
    '/admin/users/:id',
    {
      onRequest: superuser,
      schema: {
        tags: ['admin'],
        summary: 'Change flags or the email (needs a recent login; the last superuser keeps the flag)',
        consumes: ['application/json'],
        params: UserIdParams,
        body: UpdateUserBody,
        response: { 200: UserRef, 400: ErrorRef, ...change },
      },
    },
    async (request) => {
      const body = request.body
      const changes: UserChanges = {
        isActive: body.is_active,
        isVerified: body.is_verified,
        isSuperuser: body.is_superuser,
        email: body.email,
      }
      return toPublicUser(await admin.updateUser(actorOf(request), userIdOf(request), changes))
    },
  )

  app.delete<{ Params: Static<typeof UserIdParams> }>(
    '/admin/users/:id',
    {
      onRequest: superuser,
      schema: {
        tags: ['admin'],
        summary: 'Delete an account; its sessions and keys end at once (its audit trail stays)',
        params: UserIdParams,
        response: { 204: Type.Null(), ...change },
      },
    },
    async (request, reply) => {
      await admin.deleteUser(actorOf(request), userIdOf(request))
      return reply.code(204).send()
    },
  )

  app.get<{ Params: Static<typeof UserIdParams> }>(
    '/admin/users/:id/sessions',
    {
      onRequest: superuser,
      schema: {
        tags: ['admin'],
        summary: "An account's live sessions and tokens",
        params: UserIdParams,
        response: { 200: Type.Array(SessionSummarySchema), ...read },
      },
    },
    async (request) =>
      (await admin.listUserSessions(actorOf(request), userIdOf(request))).map(sessionSummaryToWire),
  )

  app.delete<{ Params: Static<typeof UserIdParams> }>(
    '/admin/users/:id/sessions',
    {
      onRequest: superuser,
      schema: {
        tags: ['admin'],
        summary: 'End every session of an account (not its API keys; needs a recent login)',
        params: UserIdParams,
        response: { 204: Type.Null(), ...read },
      },
    },
    async (request, reply) => {
      await admin.revokeUserSessions(actorOf(request), userIdOf(request))
      return reply.code(204).send()
    },
  )

  app.delete(
    '/admin/sessions',
    {
      onRequest: superuser,
      schema: {
        tags: ['admin'],
        summary: 'End every session of every account but yours (not API keys; needs a recent login)',
        response: { 204: Type.Null(), ...read },
      },
    },
    async (request, reply) => {
      await admin.revokeEverySession(actorOf(request))
      return reply.code(204).send()
    },
  )

  app.get<{ Params: Static<typeof UserIdParams> }>(
    '/admin/users/:id/api-keys',
    {
      onRequest: superuser,
      schema: {
        tags: ['admin'],
        summary: "An account's API keys (never the keys themselves)",
        params: UserIdParams,
        response: { 200: Type.Array(ApiKeySchema), ...read },
      },
    },
    async (request) => (await admin.listUserApiKeys(actorOf(request), userIdOf(request))).map(apiKeyToWire),
  )

  app.delete<{ Params: Static<typeof ApiKeyParams> }>(
    '/admin/users/:id/api-keys/:key_id',
    {
      onRequest: superuser,
      schema: {
        tags: ['admin'],
        summary: "Revoke one of an account's API keys (another account's key is a 404)",
        params: ApiKeyParams,
        response: { 204: Type.Null(), ...read },
      },
    },
    async (request, reply) => {
      await admin.revokeUserApiKey(actorOf(request), userIdOf(request), request.params.key_id)
      return reply.code(204).send()
    },
  )

  app.get<{ Querystring: Static<typeof AuditQuerySchema> }>(
    '/admin/audit',
    {
      onRequest: superuser,
      schema: {
        tags: ['admin'],
        summary: 'The whole audit trail, newest first, with who acted',
        querystring: AuditQuerySchema,
        response: { 200: AuditPageSchema, 401: ErrorRef, 403: ErrorRef, 422: ErrorRef },
      },
    },
    async (request) => {
      // The trail checks only its input; who may read it is the domain's rule.
      admin.authorizeRead(actorOf(request))
      const query = request.query
      const page = await fromQuery(
        options.trail.search({
          userId: query.user_id === undefined ? undefined : Number(query.user_id),
          type: query.type,
          since: query.since === undefined ? undefined : new Date(query.since),
          until: query.until === undefined ? undefined : new Date(query.until),
          limit: query.limit === undefined ? DEFAULT_AUDIT_PAGE : Number(query.limit),
          cursor: query.cursor,
        }),
      )
      return { events: page.events.map(auditToWire), next_cursor: page.nextCursor }
    },
  )
}
