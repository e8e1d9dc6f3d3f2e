import type { AuditContext, Session } from './context.ts'
import { CookieJar } from './cookies.ts'
import { AuditUsageError } from './errors.ts'
import { describeRequest, type ProbeResponse } from './http-probe.ts'

/** The login body in the configured format and field names. */
export function loginRequestOf(
  context: AuditContext,
  email: string,
  password: string,
): { headers: Record<string, string>; body: string } {
  const { emailField, passwordField, loginFormat } = context.options
  if (loginFormat === 'form') {
    return {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ [emailField]: email, [passwordField]: password }).toString(),
    }
  }
  return {
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ [emailField]: email, [passwordField]: password }),
  }
}

/** A CSRF token from a JSON body (`csrf_token`, `csrfToken`), else from the CSRF cookie. */
function csrfTokenOf(response: ProbeResponse, jar: CookieJar): string | undefined {
  try {
    const body = JSON.parse(response.body) as Record<string, unknown>
    for (const key of ['csrf_token', 'csrfToken', 'csrf']) {
      if (typeof body[key] === 'string') return body[key] as string
    }
  } catch {
    // not JSON: the cookie may still carry it
  }
  return jar.csrfValue()
}

/** One login attempt with the given credentials; the caller reads the status. */
export async function attemptLogin(
  context: AuditContext,
  email: string,
  password: string,
  jar?: CookieJar,
): Promise<ProbeResponse> {
  const { headers, body } = loginRequestOf(context, email, password)
  const cookie = jar?.header()
  const token = jar?.csrfValue()
  return context.probe.request({
    method: 'POST',
    path: context.options.paths.login,
    headers: {
      ...headers,
      ...(cookie ? { cookie } : {}),
      ...(token ? { [context.options.csrfHeader]: token } : {}),
    },
    body,
  })
}

/**
 * GET the CSRF route first (a server may want its token even on login), then POST the login.
 * A refused login is a usage error: the authenticated checks the user asked for cannot run.
 */
export async function signIn(context: AuditContext): Promise<Session> {
  const login = context.options.login
  if (!login) throw new AuditUsageError('signIn needs --login')
  const jar = new CookieJar()
  const { paths } = context.options
  const csrf = await context.probe.request({ path: paths.csrf })
  if (csrf.status < 400) jar.store(csrf.setCookies)
  const response = await attemptLogin(context, login.email, login.password, jar)
  if (response.status < 200 || response.status >= 300) {
    throw new AuditUsageError(
      `--login: POST ${paths.login} answered ${response.status}; check the credentials, --login-path and --login-format`,
    )
  }
  jar.store(response.setCookies)
  return {
    jar,
    csrfToken: csrfTokenOf(response, jar),
    login: response,
    loginRequest: describeRequest('POST', paths.login, {
      'content-type':
        context.options.loginFormat === 'form' ? 'application/x-www-form-urlencoded' : 'application/json',
    }),
  }
}

/** Signs in again after a check ended the session (a CSRF check that was not refused). */
export async function refreshSession(context: AuditContext): Promise<void> {
  if (context.options.login) context.session = await signIn(context)
}

/** Headers that authenticate a request: the session cookie, else the --token bearer. */
export function authHeaders(context: AuditContext): Record<string, string> {
  const cookie = context.session?.jar.header()
  if (cookie) return { cookie }
  if (context.options.token) return { authorization: `Bearer ${context.options.token}` }
  return {}
}

/** The same, as evidence. */
export function describeAuth(context: AuditContext): Record<string, string> {
  if (context.session && context.session.jar.size > 0) return { cookie: context.session.jar.describe() }
  if (context.options.token) return { authorization: 'Bearer <redacted>' }
  return {}
}
