import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { toPublicUser } from '../../accounts/user.ts'
import { GatehouseError } from '../../core/errors.ts'
import { bearerLogin } from '../bearer-login.ts'
import { clientOf } from '../client-info.ts'
import { Email, ErrorRef, Password, TokenResponseSchema, UserRef } from '../schemas.ts'
import { shedWhenOverloaded } from '../shed-overloaded.ts'

/**
 * Exactly these two fields: any other (`is_superuser`, `isSuperuser`, `id`…) is a 422 naming it,
 * so a client learns at once that it cannot set it, instead of a silent drop (OWASP Mass
 * Assignment Cheat Sheet: allow-list the bindable fields).
 */
const RegisterBody = Type.Object({ email: Email, password: Password }, { additionalProperties: false })

/**
 * OAuth2PasswordRequestForm (RFC 6749 §4.3.2): the email travels as `username`. Other parameters
 * are ignored, as RFC 6749 §3.2 requires of a token endpoint; the handler reads only these.
 */
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

export interface AuthRoutesOptions {
  /**
   * Serve `POST /token` (the OAuth2 password grant; default true). RFC 9700 §2.4 forbids this
   * grant to OAuth authorization servers; it fits only a first-party client of its own API.
   */
  passwordGrant?: boolean
}

export async function authRoutes(app: FastifyInstance, options: AuthRoutesOptions = {}): Promise<void> {
  const { accounts } = app.gatehouse

  app.post<{ Body: Static<typeof RegisterBody> }>(
    '/register',
    {
      onRequest: shedWhenOverloaded(app.gatehouse.accounts),
      schema: {
        tags: ['auth'],
        summary: 'Create an account',
        body: RegisterBody,
        response: { 201: UserRef, 400: ErrorRef, 422: ErrorRef, 429: ErrorRef, 503: ErrorRef },
      },
    },
    async (request, reply) => {
      const { email, password } = request.body
      const user = await accounts.register({ email, password }, clientOf(request))
      return reply.code(201).send(toPublicUser(user))
    },
  )

  if (options.passwordGrant === false) return

  app.post<{ Body: Static<typeof TokenForm> }>(
    '/token',
    {
      onRequest: shedWhenOverloaded(app.gatehouse.accounts),
      schema: {
        tags: ['auth'],
        summary: 'OAuth2 password flow: exchange email and password for a bearer token',
        consumes: ['application/x-www-form-urlencoded'],
        body: TokenForm,
        response: {
          200: TokenResponseSchema,
          400: ErrorRef,
          401: ErrorRef,
          403: ErrorRef,
          422: ErrorRef,
          429: ErrorRef,
          503: ErrorRef,
        },
      },
    },
    async (request, reply) => {
      const { grant_type: grantType, username, password } = request.body
      // RFC 6749 §5.2: any grant other than "password" is unsupported here.
      if (grantType !== undefined && grantType !== 'password') {
        throw new GatehouseError('UNSUPPORTED_GRANT_TYPE')
      }
      const { issued } = await bearerLogin(request, { email: username, password })
      return reply.headers(TOKEN_RESPONSE_HEADERS).send({
        access_token: issued.token,
        token_type: 'bearer',
        expires_in: issued.expiresInSeconds,
      })
    },
  )
}
