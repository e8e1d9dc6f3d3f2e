/**
 * The book's authentication app (chapter 7): register with a hashed password, OAuth2 password
 * login issuing a database access token, and a protected route — with the book's exact responses.
 */
import { type Static, Type } from '@sinclair/typebox'
import Fastify, { type FastifyInstance } from 'fastify'
import { bearerLogin, currentUser, gatehousePlugin, openGatehouse, type User } from '../src/index.ts'

const UserCreate = Type.Object({ email: Type.String({ format: 'email' }), password: Type.String() })
const TokenForm = Type.Object({ username: Type.String(), password: Type.String() })
const userRead = (user: User) => ({ id: user.id, email: user.email })

export async function build(): Promise<FastifyInstance> {
  const { accounts, close } = await openGatehouse({
    databaseUrl: process.env.DATABASE_URL ?? 'sqlite:./data/authentication.db',
  })
  const app = Fastify({ logger: false })
  app.addHook('onClose', close)
  await app.register(gatehousePlugin, { accounts })

  app.post<{ Body: Static<typeof UserCreate> }>(
    '/register',
    { schema: { body: UserCreate } },
    async (request, reply) => {
      const { email, password } = request.body
      return reply.code(201).send(userRead(await accounts.register({ email, password })))
    },
  )

  app.post<{ Body: Static<typeof TokenForm> }>('/token', { schema: { body: TokenForm } }, async (request) => {
    // Throttled per account and per client; a wrong password is a 401 with WWW-Authenticate: Bearer.
    const { issued } = await bearerLogin(request, {
      email: request.body.username,
      password: request.body.password,
    })
    return { access_token: issued.token, token_type: 'bearer' }
  })

  app.get('/protected-route', { onRequest: currentUser({ sessionCookie: null }) }, (request) =>
    userRead(request.user!),
  )
  return app
}
