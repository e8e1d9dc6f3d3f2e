/**
 * The book's CSRF app (chapter 7, `chapter07/csrf/app.py`): register, log in with a form that sets
 * the `token` session cookie, read (`GET /me`) and update (`POST /me`) the user from a page on
 * http://localhost:9000, the update guarded by the `csrftoken` cookie echoed in `x-csrftoken`.
 * Gatehouse adds: CSRF tokens signed and bound to the session (one minted before login is refused
 * after it, so login rotates it), Fetch Metadata / Origin checks that refuse cross-site POSTs
 * (login CSRF included), an exact CORS allowlist, hashed tokens at rest and security headers.
 */
import { randomBytes } from 'node:crypto'
import { type Static, Type } from '@sinclair/typebox'
import Fastify, { type FastifyInstance } from 'fastify'
import {
  apiKeyCookie,
  clientOf,
  GatehouseError,
  gatehousePlugin,
  issueCsrfToken,
  openGatehouse,
  signIn,
  type User,
} from '../src/index.ts'

const Credentials = Type.Object({ email: Type.String({ format: 'email' }), password: Type.String() })
const UserUpdate = Type.Object({ email: Type.String({ format: 'email' }) })
const userRead = (user: User) => ({ id: user.id, email: user.email })

export async function build(): Promise<FastifyInstance> {
  const { accounts, close } = await openGatehouse({
    databaseUrl: process.env.DATABASE_URL ?? 'sqlite:./data/csrf.db',
  })
  // Without CSRF_SECRET, a per-process secret: CSRF tokens then die with the process (fine here).
  const csrfSecret = process.env.CSRF_SECRET ?? randomBytes(32).toString('base64url')
  const app = Fastify({ logger: false })
  app.addHook('onClose', close)
  await app.register(gatehousePlugin, { accounts, csrfSecret, cors: { origins: ['http://localhost:9000'] } })
  const { cookies } = app.gatehouse

  // The book's APIKeyCookie: a missing cookie is 403, an invalid or expired token 401.
  const currentUser = apiKeyCookie({
    name: cookies.session,
    errorStatus: 403,
    verify: async (token, request) => {
      const context = await accounts.validateToken(token, 'session')
      if (!context) throw new GatehouseError('INVALID_TOKEN', { headers: { 'www-authenticate': 'APIKey' } })
      request.auth = { ...context, via: 'cookie' }
      request.user = context.user
      return true
    },
  })

  // The book's `GET /csrf` only set the cookie; here the token is in the body too, never cached.
  app.get('/csrf', async (request, reply) => ({ csrf_token: issueCsrfToken(request, reply) }))

  app.post<{ Body: Static<typeof Credentials> }>(
    '/register',
    { schema: { body: Credentials } },
    async (request, reply) => {
      const { email, password } = request.body
      return reply.code(201).send(userRead(await accounts.register({ email, password })))
    },
  )

  // No session yet, so no token to check; the Fetch Metadata / Origin layer still refuses login CSRF.
  app.post<{ Body: Static<typeof Credentials> }>(
    '/login',
    { config: { csrf: false }, schema: { body: Credentials } },
    async (request, reply) => {
      // Throttled against guessing; a fresh session, and a CSRF token bound to it.
      const { email, password } = request.body
      return { csrf_token: (await signIn(request, reply, { email, password })).csrfToken }
    },
  )

  app.get('/me', { onRequest: currentUser }, (request) => userRead(request.user!))

  app.post<{ Body: Static<typeof UserUpdate> }>(
    '/me',
    { onRequest: currentUser, schema: { body: UserUpdate } },
    async (request) =>
      userRead(
        await accounts.changeEmail({
          session: request.auth!,
          email: request.body.email,
          client: clientOf(request),
        }),
      ),
  )
  return app
}
