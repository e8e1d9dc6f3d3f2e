/**
 * The live users the fuzz signs in as: slot k holds a user with a bearer token and a cookie
 * session (with its CSRF token). The fuzz changes passwords, emails and revokes sessions, so
 * `refresh()` checks every slot and replaces a user whose credentials stopped working.
 * Users are made through inject() from addresses of their own, so the fuzz's own (127.0.0.1)
 * registration and login limits never stop them.
 */
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import type { SlotValues } from './slots.ts'

export const SLOTS = 6

export interface LiveUser {
  email: string
  password: string
  id: number
  bearer: string
  session: string
  csrfCookie: string
  csrfToken: string
  sessionIds: string[]
}

export interface CookieNames {
  session: string
  csrf: string
}

export interface UserPool extends SlotValues {
  user(k: number): LiveUser
  /** Credentials of replaced users: revoked or of a changed password, for `stale-*` requests. */
  stale(k: number): LiveUser | undefined
  /** Signs in again (or replaces) the users whose bearer token or session no longer works; returns how many. */
  refresh(): Promise<number>
  /** Users made so far. */
  made(): number
}

function cookieValue(setCookie: string | string[] | undefined, name: string): string {
  const list = Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []
  const found = list.find((c) => c.startsWith(`${name}=`))
  assert.ok(found, `no ${name} cookie in ${JSON.stringify(list)}`)
  return found.slice(name.length + 1).split(';')[0]!
}

export async function userPool(app: FastifyInstance, cookies: CookieNames, label: string): Promise<UserPool> {
  let made = 0
  let logins = 0
  const users: LiveUser[] = []
  const stale: LiveUser[] = []
  /** Each sign-in from an address of its own: no throttle counts them with the fuzz's attempts. */
  const nextAddress = () => {
    logins++
    return `10.${99 + (logins >> 16)}.${(logins >> 8) & 255}.${logins & 255}`
  }

  async function bearerFor(email: string, password: string): Promise<string | null> {
    const token = await app.inject({
      method: 'POST',
      url: '/token',
      remoteAddress: nextAddress(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ username: email, password }).toString(),
    })
    return token.statusCode === 200 ? (token.json().access_token as string) : null
  }

  async function sessionFor(email: string, password: string) {
    const login = await app.inject({
      method: 'POST',
      url: '/login',
      remoteAddress: nextAddress(),
      payload: { email, password },
    })
    if (login.statusCode !== 200) return null
    return {
      session: cookieValue(login.headers['set-cookie'], cookies.session),
      csrfCookie: cookieValue(login.headers['set-cookie'], cookies.csrf),
      csrfToken: login.json().csrf_token as string,
    }
  }

  async function sessionIdsOf(bearer: string): Promise<string[]> {
    const sessions = await app.inject({ url: '/sessions', headers: { authorization: `Bearer ${bearer}` } })
    return sessions.statusCode === 200 ? (sessions.json() as { id: string }[]).map((s) => s.id) : []
  }

  async function make(): Promise<LiveUser> {
    made++
    const email = `fuzz-${label}-${made}@example.com`
    const password = `Fuzz-${label}-passphrase-${made}`
    const registered = await app.inject({
      method: 'POST',
      url: '/register',
      remoteAddress: nextAddress(),
      payload: { email, password },
    })
    assert.equal(registered.statusCode, 201, `register ${email}: ${registered.body}`)
    const bearer = await bearerFor(email, password)
    const session = await sessionFor(email, password)
    assert.ok(bearer && session, `sign-in of ${email} failed`)
    return {
      email,
      password,
      id: registered.json().id as number,
      bearer,
      ...session,
      sessionIds: await sessionIdsOf(bearer),
    }
  }

  /** Same user with new credentials where the old ones were revoked; a new user when the password changed or the account is blocked. */
  async function revive(k: number): Promise<boolean> {
    const user = users[k]!
    const me = await app.inject({ url: '/me', headers: { authorization: `Bearer ${user.bearer}` } })
    const viaCookie = await app.inject({ url: '/me', cookies: { [cookies.session]: user.session } })
    // The fuzz may have changed the email: the same account under its new address.
    if (me.statusCode === 200) user.email = me.json().email as string
    else if (viaCookie.statusCode === 200) user.email = viaCookie.json().email as string
    if (me.statusCode === 200 && viaCookie.statusCode === 200) return false
    stale.push({ ...user })
    const bearer = me.statusCode === 200 ? user.bearer : await bearerFor(user.email, user.password)
    const session = viaCookie.statusCode === 200 ? user : await sessionFor(user.email, user.password)
    if (bearer === null || session === null) {
      users[k] = await make()
      return true
    }
    users[k] = {
      ...user,
      bearer,
      session: session.session,
      csrfCookie: session.csrfCookie,
      csrfToken: session.csrfToken,
      sessionIds: await sessionIdsOf(bearer),
    }
    return true
  }

  for (let k = 0; k < SLOTS; k++) users.push(await make())

  const at = (k: number) => users[k % SLOTS]!
  return {
    user: at,
    stale: (k) => (stale.length === 0 ? undefined : stale[k % stale.length]),
    email: (k) => at(k).email,
    password: (k) => at(k).password,
    userId: (k) => String(at(k).id),
    sessionId: (k) => at(k).sessionIds[0] ?? 'A'.repeat(22),
    made: () => made,
    async refresh() {
      let revived = 0
      for (let k = 0; k < SLOTS; k++) if (await revive(k)) revived++
      return revived
    },
  }
}
