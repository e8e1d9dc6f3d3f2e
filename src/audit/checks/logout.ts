import type { AuditContext } from '../context.ts'
import { type Finding, type FindingSpec, finding, skipped } from '../finding.ts'
import { describeRequest } from '../http-probe.ts'
import type { Check } from './check.ts'

const COOKIE: FindingSpec = {
  id: 'logout.cookie',
  asvs: 'V7.4.1',
  title: 'logout ends the cookie session on the server',
  fix: 'On logout, invalidate the session server-side; clearing the cookie in the browser is not enough.',
  passMeans: 'after POST --logout-path, the old session cookie replayed on --me-path is refused (401/403)',
}
const BEARER: FindingSpec = {
  id: 'logout.bearer',
  asvs: 'V7.4.1',
  title: 'logout revokes the bearer token',
  fix: 'On logout, revoke the access token server-side (store, deny-list or per-user cut-off).',
  passMeans: 'a token from --token-path, used once, then logged out, is refused afterwards (401/403)',
}

const isRefused = (status: number) => status === 401 || status === 403

async function cookieLogout(context: AuditContext): Promise<Finding> {
  const session = context.session!
  const { me, logout } = context.options.paths
  const cookie = session.jar.header()!
  const headers = {
    cookie,
    ...(session.csrfToken ? { [context.options.csrfHeader]: session.csrfToken } : {}),
  }
  const shown = {
    cookie: session.jar.describe(),
    ...(session.csrfToken ? { [context.options.csrfHeader]: '<valid token>' } : {}),
  }
  const before = await context.probe.request({ path: me, headers: { cookie } })
  if (before.status !== 200) {
    return skipped(
      COOKIE,
      `${me} answered ${before.status} to the live session; set --me-path`,
      describeRequest('GET', me, { cookie: session.jar.describe() }),
    )
  }
  const out = await context.probe.request({ method: 'POST', path: logout, headers })
  if (out.status < 200 || out.status >= 300) {
    return finding(
      COOKIE,
      'SKIP',
      `POST ${logout} answered ${out.status}: could not log out (set --logout-path, --csrf-header)`,
      {
        request: describeRequest('POST', logout, shown),
        observed: `${out.status}`,
      },
    )
  }
  const after = await context.probe.request({ path: me, headers: { cookie } })
  const request = `${describeRequest('POST', logout, shown)}, then ${describeRequest('GET', me, { cookie: 'the old cookie' })}`
  const observed = `logout ${out.status}, then ${after.status}`
  context.session = undefined
  return isRefused(after.status)
    ? finding(COOKIE, 'PASS', 'the old session cookie is refused after logout', { request, observed })
    : finding(COOKIE, 'FAIL', 'the session still works after logout: a stolen cookie outlives the logout', {
        request,
        observed,
      })
}

async function bearerLogout(context: AuditContext) {
  const login = context.options.login
  const { token: tokenPath, me, logout } = context.options.paths
  if (!login) return skipped(BEARER, 'needs --login (a --token is never revoked by the audit: it is yours)')
  const body = new URLSearchParams({
    grant_type: 'password',
    username: login.email,
    password: login.password,
  }).toString()
  const issued = await context.probe.request({
    method: 'POST',
    path: tokenPath,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
  })
  const issueRequest = describeRequest('POST', tokenPath, {
    'content-type': 'application/x-www-form-urlencoded',
  })
  let token: unknown
  try {
    token = (JSON.parse(issued.body) as { access_token?: unknown }).access_token
  } catch {
    token = undefined
  }
  if (issued.status !== 200 || typeof token !== 'string') {
    return skipped(
      BEARER,
      `POST ${tokenPath} answered ${issued.status} without an access_token; set --token-path if the server has one`,
      issueRequest,
    )
  }
  const authorization = `Bearer ${token}`
  const before = await context.probe.request({ path: me, headers: { authorization } })
  if (before.status !== 200) {
    return skipped(
      BEARER,
      `${me} answered ${before.status} to the fresh token; set --me-path`,
      describeRequest('GET', me, { authorization: 'Bearer <redacted>' }),
    )
  }
  const out = await context.probe.request({ method: 'POST', path: logout, headers: { authorization } })
  const after = await context.probe.request({ path: me, headers: { authorization } })
  const request = `${issueRequest}, then ${describeRequest('POST', logout, { authorization: 'Bearer <redacted>' })}, then ${describeRequest('GET', me, { authorization: 'Bearer <the old token>' })}`
  const observed = `token ${issued.status}, ${me} ${before.status}, logout ${out.status}, then ${after.status}`
  if (out.status < 200 || out.status >= 300) {
    return finding(
      BEARER,
      'SKIP',
      `POST ${logout} with the bearer token answered ${out.status}: could not log out`,
      { request, observed },
    )
  }
  return isRefused(after.status)
    ? finding(BEARER, 'PASS', 'the token is refused after logout', { request, observed })
    : finding(BEARER, 'FAIL', 'the token still works after logout', { request, observed })
}

export const logoutCheck: Check = {
  name: 'logout',
  specs: [COOKIE, BEARER],
  applies(context) {
    return context.options.login
      ? null
      : 'needs --login: the audit logs out only sessions it opened itself (never your --token)'
  },
  async run(context, emit) {
    const cookie = context.session?.jar.header()
      ? await cookieLogout(context)
      : skipped(COOKIE, 'the login set no cookie')
    emit(cookie)
    emit(await bearerLogout(context))
  },
}
