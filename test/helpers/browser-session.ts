/**
 * A browser's view of the cookie session, for HTTP tests through `inject()`: log in with a form,
 * keep the cookies it sets, send them back with the CSRF header, and read `Set-Cookie` attribute
 * by attribute (the raw header, so an absent `Domain` or `HttpOnly` is really absent).
 */
import assert from 'node:assert/strict'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { Store } from '../../src/store/open-store.ts'

export interface CookieNames {
  session: string
  csrf: string
}

/** The book's names, kept by the development profile. */
export const DEV_COOKIES: CookieNames = { session: 'token', csrf: 'csrftoken' }
/** RFC 6265bis `__Host-` names of the production profile. */
export const PROD_COOKIES: CookieNames = { session: '__Host-token', csrf: '__Host-csrftoken' }

/** The origin of the demo front end, trusted by default in development. */
export const DEMO_ORIGIN = 'http://localhost:9000'

export interface SetCookie {
  name: string
  value: string
  /** Attribute names lowercased; flags (HttpOnly, Secure) map to true. */
  attributes: Map<string, string | true>
  raw: string
}

/** Every `Set-Cookie` line of a response, by cookie name (a name set twice fails the test). */
export function setCookies(response: LightMyRequestResponse): Map<string, SetCookie> {
  const header = response.headers['set-cookie']
  const lines = header === undefined ? [] : Array.isArray(header) ? header : [header]
  const cookies = new Map<string, SetCookie>()
  for (const raw of lines) {
    const [pair = '', ...rest] = raw.split(';')
    const separator = pair.indexOf('=')
    assert.ok(separator > 0, `not a name=value cookie: ${raw}`)
    const name = pair.slice(0, separator).trim()
    const attributes = new Map<string, string | true>()
    for (const part of rest) {
      const equals = part.indexOf('=')
      if (equals === -1) attributes.set(part.trim().toLowerCase(), true)
      else attributes.set(part.slice(0, equals).trim().toLowerCase(), part.slice(equals + 1).trim())
    }
    assert.ok(!cookies.has(name), `cookie ${name} set twice in one response`)
    cookies.set(name, { name, value: pair.slice(separator + 1).trim(), attributes, raw })
  }
  return cookies
}

/** The one `Set-Cookie` of this name; fails the test when the response does not set it. */
export function setCookie(response: LightMyRequestResponse, name: string): SetCookie {
  const cookie = setCookies(response).get(name)
  assert.ok(cookie, `no Set-Cookie ${name} in ${JSON.stringify(response.headers['set-cookie'])}`)
  return cookie
}

/** True when the cookie tells the browser to drop it (Max-Age=0 or an Expires in the past). */
export function isExpired(cookie: SetCookie): boolean {
  const maxAge = cookie.attributes.get('max-age')
  const expires = cookie.attributes.get('expires')
  if (typeof maxAge === 'string' && Number(maxAge) <= 0) return true
  return typeof expires === 'string' && Date.parse(expires) <= Date.now()
}

/** A `Cookie` request header from name → value pairs (undefined values are left out). */
export function cookieHeader(cookies: Record<string, string | undefined>): string {
  return Object.entries(cookies)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `${name}=${value}`)
    .join('; ')
}

export interface BrowserSession {
  /** The cookies the login set, as the browser would send them back. */
  cookies: Record<string, string>
  /** The session cookie's value (the opaque session token). */
  sessionToken: string
  /** The CSRF token of the login body (equal to the CSRF cookie). */
  csrfToken: string
  user: { id: number; email: string }
  names: CookieNames
}

/** POST /login with a form body; returns the raw response. */
export function postLogin(
  app: FastifyInstance,
  email: string,
  password: string,
  headers: Record<string, string> = {},
): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: '/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: new URLSearchParams({ email, password }).toString(),
  })
}

/** Logs in like a browser form; fails the test unless it answers 200 with both cookies. */
export async function loginWithCookie(
  app: FastifyInstance,
  email: string,
  password: string,
  options: { names?: CookieNames; headers?: Record<string, string> } = {},
): Promise<BrowserSession> {
  const names = options.names ?? DEV_COOKIES
  const response = await postLogin(app, email, password, options.headers)
  assert.equal(response.statusCode, 200, `cookie login of ${email} failed: ${response.body}`)
  const session = setCookie(response, names.session).value
  const csrf = setCookie(response, names.csrf).value
  const body = response.json() as { user: { id: number; email: string }; csrf_token: string }
  assert.equal(body.csrf_token, csrf, 'the body carries the same CSRF token as the cookie')
  return {
    cookies: { [names.session]: session, [names.csrf]: csrf },
    sessionToken: session,
    csrfToken: csrf,
    user: body.user,
    names,
  }
}

/** Headers of a same-origin browser request with this session: its cookies and the CSRF header. */
export function sessionHeaders(
  session: BrowserSession,
  extra: Record<string, string> = {},
): Record<string, string> {
  return { cookie: cookieHeader(session.cookies), 'x-csrftoken': session.csrfToken, ...extra }
}

/** Only the session cookie: what a cross-site page's request would carry along. */
export function sessionCookieOnly(session: BrowserSession): { cookie: string } {
  return { cookie: cookieHeader({ [session.names.session]: session.sessionToken }) }
}

/** GET /csrf (with these cookies, if any); returns the token of the body and of the cookie. */
export async function fetchCsrfToken(
  app: FastifyInstance,
  cookies: Record<string, string> = {},
  names: CookieNames = DEV_COOKIES,
): Promise<{ body: string; cookie: string; response: LightMyRequestResponse }> {
  const headers = Object.keys(cookies).length > 0 ? { cookie: cookieHeader(cookies) } : {}
  const response = await app.inject({ method: 'GET', url: '/csrf', headers })
  assert.equal(response.statusCode, 200, `GET /csrf failed: ${response.body}`)
  return {
    body: response.json().csrf_token as string,
    cookie: setCookie(response, names.csrf).value,
    response,
  }
}

/** The user's email as stored, read straight from the database. */
export async function storedEmail(store: Store, userId: number): Promise<string | undefined> {
  const row = await store.db.selectFrom('users').select('email').where('id', '=', userId).executeTakeFirst()
  return row?.email
}

/** The stored preferences document of a user, straight from the database (undefined: none). */
export async function storedPreferences(store: Store, userId: number): Promise<unknown> {
  const row = await store.db
    .selectFrom('preferences')
    .select('data')
    .where('user_id', '=', userId)
    .executeTakeFirst()
  return row === undefined ? undefined : JSON.parse(row.data)
}

/** A Content-Security-Policy header as directive → sources. */
export function parseCsp(header: unknown): Map<string, string[]> {
  assert.equal(typeof header, 'string', 'content-security-policy is missing')
  const directives = new Map<string, string[]>()
  for (const part of (header as string).split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/)
    if (name) directives.set(name.toLowerCase(), sources)
  }
  return directives
}
