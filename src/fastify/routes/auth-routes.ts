import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { toPublicUser } from '../../accounts/user.ts'
import { GatehouseError } from '../../core/errors.ts'
import { Email, ErrorRef, Password, TokenResponseSchema, UserRef } from '../schemas.ts'

const RegisterBody = Type.Object({ email: Email, password: Password })

/** OAuth2PasswordRequestForm (RFC 6749 §4.3.2): the email travels as `username`. */
const TokenForm = Type.Object({
  grant_type: Type.Optional(Type.String()),
  username: Type.String({ minLength: 1, maxLength: 254 }),
  password: Type.String({ minLength: 1, maxLength: 4096 }),
  scope: Type.Optional(Type.String()),
  client_id: Type.Optional(Type.String()),
  client_secret: Type.Optional(Type.String()),
})

// RFC 6749 §5.1: token responses must not be cached.
const TOKEN_RESPONSE_HEADERS = { 'cache-control': 'no-store', pragma: 'no-cache' }
const BEARER_CHALLENGE = { 'www-authenticate': 'Bearer' }

export async function authRoutes(app: FastifyInstance): Promise<void> {
  const { accounts, loginThrottle } = app.gatehouse

  app.post<{ Body: Static<typeof RegisterBody> }>(
    '/register',
    {
      schema: {
        tags: ['auth'],
        summary: 'Create an account',
        body: RegisterBody,
        response: { 201: UserRef, 400: ErrorRef, 422: ErrorRef },
      },
    },
    async (request, reply) => {
      const user = await accounts.register(request.body)
      return reply.code(201).send(toPublicUser(user))
    },
  )

  app.post<{ Body: Static<typeof TokenForm> }>(
    '/token',
    {
      schema: {
        tags: ['auth'],
        summary: 'OAuth2 password flow: exchange email and password for a bearer token',
        consumes: ['application/x-www-form-urlencoded'],
        body: TokenForm,
        response: { 200: TokenResponseSchema, 400: ErrorRef, 401: ErrorRef, 422: ErrorRef, 429: ErrorRef },
      },
    },
    async (request, reply) => {
      const { grant_type: grantType, username, password } = request.body
      // RFC 6749 §5.2: any grant other than "password" is unsupported here.
      if (grantType !== undefined && grantType !== 'password') {
        throw new GatehouseError('UNSUPPORTED_GRANT_TYPE')
      }
      const user = await loginThrottle.guard(username, request.ip, () =>
        accounts.authenticate(username, password),
      )
      if (!user) throw new GatehouseError('BAD_CREDENTIALS', { headers: BEARER_CHALLENGE })
      const issued = await accounts.issueToken(user.id, 'bearer')
      return reply.headers(TOKEN_RESPONSE_HEADERS).send({
        access_token: issued.token,
        token_type: 'bearer',
        expires_in: issued.expiresInSeconds,
      })
    },
  )
}
