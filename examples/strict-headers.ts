/**
 * The "FastAPI security headers and cookies" article's app: a cookie-session login, the signed-in
 * user's profile, and per-user preferences at `/prefs/:user_id` — every response hardened.
 * Gatehouse adds, from `gatehousePlugin` alone: nosniff, `X-Frame-Options: DENY`, CSP
 * `default-src 'none'; frame-ancestors 'none'` on JSON, `Referrer-Policy: no-referrer`, COOP,
 * CORP and Permissions-Policy on every response (404s and errors too), `Cache-Control: no-store`
 * on authenticated ones, no X-Powered-By or X-XSS-Protection, and CSRF checks on the POSTs.
 * The example adds the owner check: another user's id is 403 (IDOR).
 */
import { randomBytes } from 'node:crypto'
import { type Static, Type } from '@sinclair/typebox'
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import {
  currentUser,
  GatehouseError,
  gatehousePlugin,
  openGatehouse,
  signIn,
  type User,
} from '../src/index.ts'

const Credentials = Type.Object({ email: Type.String({ format: 'email' }), password: Type.String() })
const UserIdParams = Type.Object({ user_id: Type.Integer() })
type Params = { Params: Static<typeof UserIdParams> }
const userRead = (user: User) => ({ id: user.id, email: user.email })

export async function build(): Promise<FastifyInstance> {
  const { accounts, close } = await openGatehouse({
    databaseUrl: process.env.DATABASE_URL ?? 'sqlite:./data/strict-headers.db',
  })
  // Without CSRF_SECRET, a per-process secret: CSRF tokens then die with the process (fine here).
  const csrfSecret = process.env.CSRF_SECRET ?? randomBytes(32).toString('base64url')
  const app = Fastify({ logger: false })
  app.addHook('onClose', close)
  await app.register(gatehousePlugin, { accounts, csrfSecret })
  const { cookies } = app.gatehouse
  const signedIn = currentUser({ sessionCookie: cookies.session })
  /** Only the owner: a guessable id in the path must not open another user's data (OWASP IDOR). */
  const ownerId = (request: FastifyRequest<Params>) => {
    if (request.params.user_id !== request.user!.id) throw new GatehouseError('FORBIDDEN')
    return request.user!.id
  }

  app.post<{ Body: Static<typeof Credentials> }>(
    '/register',
    { schema: { body: Credentials } },
    async (request, reply) => {
      const { email, password } = request.body
      return reply.code(201).send(userRead(await accounts.register({ email, password })))
    },
  )
  app.post<{ Body: Static<typeof Credentials> }>(
    '/login',
    { config: { csrf: false }, schema: { body: Credentials } },
    async (request, reply) => {
      const { email, password } = request.body
      return { csrf_token: (await signIn(request, reply, { email, password })).csrfToken }
    },
  )
  app.get('/profile', { onRequest: signedIn }, (request) => userRead(request.user!))
  app.get<Params>('/prefs/:user_id', { onRequest: signedIn, schema: { params: UserIdParams } }, (request) =>
    accounts.readPreferences(ownerId(request)),
  )
  app.post<Params & { Body: Record<string, unknown> }>(
    '/prefs/:user_id',
    { onRequest: signedIn, bodyLimit: 16 * 1024, schema: { params: UserIdParams, body: Type.Object({}) } },
    (request) => accounts.writePreferences(ownerId(request), request.body),
  )
  return app
}
