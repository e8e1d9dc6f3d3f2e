import type { AuditContext } from '../context.ts'
import { isCsrfCookie, parseSetCookie, redactSetCookie, type SetCookie } from '../cookies.ts'
import { type Finding, type FindingSpec, finding, type Status, skipped, worst } from '../finding.ts'
import { describeRequest, type ProbeResponse } from '../http-probe.ts'
import { authHeaders, describeAuth } from '../session.ts'
import type { Check } from './check.ts'

const SECURE: FindingSpec = {
  id: 'cookies.secure',
  asvs: 'V3.3.1',
  title: 'login cookies are Secure with a __Host-/__Secure- prefix',
  fix: 'Set Secure on every cookie and name it __Host-… (or __Secure-… if it must reach subdomains).',
  passMeans: 'every cookie the login sets has Secure and a __Host- or __Secure- name',
}
const HOST_PREFIX: FindingSpec = {
  id: 'cookies.host-prefix',
  asvs: 'V3.3.3',
  title: 'login cookies use the __Host- prefix',
  fix: 'Name cookies __Host-… (Secure, Path=/, no Domain) unless they must be shared with other hosts.',
  passMeans:
    'every cookie the login sets is named __Host-… (any other name is WARN: only you know whether it must be shared; a name with neither prefix already FAILs cookies.secure)',
}
const HTTP_ONLY: FindingSpec = {
  id: 'cookies.httponly',
  asvs: 'V3.3.4',
  title: 'the session cookie is HttpOnly',
  fix: 'Set HttpOnly on the session cookie so injected script cannot read it.',
  passMeans:
    'every cookie the login sets, except a CSRF token cookie (name containing csrf/xsrf), is HttpOnly',
}
const SAME_SITE: FindingSpec = {
  id: 'cookies.samesite',
  asvs: 'V3.3.2',
  title: 'login cookies set SameSite',
  fix: 'Set SameSite=Lax (or Strict) on the session cookie.',
  passMeans: 'every cookie the login sets has SameSite=Lax or Strict (None or absent is WARN)',
}
const NO_STORE: FindingSpec = {
  id: 'cache.no-store',
  asvs: 'V14.3.2',
  title: 'authenticated responses are not cached',
  fix: 'Send Cache-Control: no-store on every response to an authenticated request.',
  passMeans: 'GET on the signed-in user route (--me-path) answers 200 with Cache-Control: no-store',
}
const LOGIN_NO_STORE: FindingSpec = {
  id: 'cache.login-response',
  asvs: 'V14.3.2',
  title: 'the login response is not cached',
  fix: 'Send Cache-Control: no-store on the response that sets the session cookie or returns a token.',
  passMeans:
    'the login response (it carries the session and the CSRF token) has Cache-Control: no-store; absent is WARN (POST answers are rarely cached, but nothing forbids it)',
}

function hasNoStore(response: ProbeResponse): boolean {
  return /(?:^|,)\s*no-store\b/i.test(response.headers['cache-control'] ?? '')
}

function loginCookies(context: AuditContext): { cookie: SetCookie; header: string }[] {
  const session = context.session!
  return session.login.setCookies.flatMap((header) => {
    const cookie = parseSetCookie(header)
    return cookie ? [{ cookie, header }] : []
  })
}

function perCookie(
  context: AuditContext,
  spec: FindingSpec,
  judge: (cookie: SetCookie) => Status,
  detail: Record<Status, string>,
): Finding {
  const cookies = loginCookies(context)
  const judged = cookies.map(({ cookie, header }) => ({ status: judge(cookie), header }))
  const status = worst(judged.map((entry) => entry.status))
  const shown = status === 'PASS' ? judged : judged.filter((entry) => entry.status !== 'PASS')
  return finding(spec, status, detail[status], {
    request: context.session!.loginRequest,
    observed: shown.map((entry) => `set-cookie: ${redactSetCookie(entry.header)}`).join('; '),
  })
}

export const cookiesCheck: Check = {
  name: 'session cookies and caching',
  specs: [SECURE, HOST_PREFIX, HTTP_ONLY, SAME_SITE, NO_STORE, LOGIN_NO_STORE],
  applies(context) {
    if (!context.session && !context.options.token) return 'needs --login (or --token for the caching check)'
    return null
  },
  async run(context, emit) {
    const me = context.options.paths.me
    const response = await context.probe.request({ path: me, headers: authHeaders(context) })
    const meRequest = describeRequest('GET', me, describeAuth(context))
    const observed = `${response.status}, cache-control: ${response.headers['cache-control'] ?? '(absent)'}`
    if (response.status !== 200) {
      emit(
        finding(NO_STORE, 'SKIP', `${me} did not answer 200 to the signed-in request; set --me-path`, {
          request: meRequest,
          observed,
        }),
      )
    } else {
      const ok = hasNoStore(response)
      emit(
        finding(
          NO_STORE,
          ok ? 'PASS' : 'FAIL',
          ok ? 'no-store on the authenticated answer' : "a browser or shared cache may keep the user's data",
          { request: meRequest, observed },
        ),
      )
    }
    const session = context.session
    if (!session) {
      for (const spec of [LOGIN_NO_STORE, SECURE, HOST_PREFIX, HTTP_ONLY, SAME_SITE]) {
        emit(skipped(spec, 'needs --login: only a login shows the cookies it sets'))
      }
      return
    }
    const cookies = loginCookies(context)
    const login = session.login
    emit(
      finding(
        LOGIN_NO_STORE,
        hasNoStore(login) ? 'PASS' : 'WARN',
        hasNoStore(login)
          ? 'no-store on the login answer'
          : 'the login answer carries the session and may be cached',
        {
          request: session.loginRequest,
          observed: `${login.status}, cache-control: ${login.headers['cache-control'] ?? '(absent)'}`,
        },
      ),
    )
    if (cookies.length === 0) {
      const reason = 'the login set no cookie (a token-only login?)'
      for (const spec of [SECURE, HOST_PREFIX, HTTP_ONLY, SAME_SITE]) {
        emit(
          finding(spec, 'SKIP', reason, {
            request: session.loginRequest,
            observed: `${login.status}, no set-cookie`,
          }),
        )
      }
      return
    }
    emit(
      perCookie(
        context,
        SECURE,
        (cookie) =>
          cookie.attributes.has('secure') && /^__(Host|Secure)-/.test(cookie.name) ? 'PASS' : 'FAIL',
        {
          PASS: 'Secure and prefixed',
          WARN: '',
          SKIP: '',
          FAIL: 'a cookie lacks Secure or a __Host-/__Secure- prefix: it can travel over http or be set by a sibling host',
        },
      ),
    )
    emit(
      perCookie(context, HOST_PREFIX, (cookie) => (cookie.name.startsWith('__Host-') ? 'PASS' : 'WARN'), {
        PASS: '__Host-: host-only, Secure, Path=/',
        WARN: 'no __Host- prefix: a sibling host can plant or overwrite it, unless the cookie must be shared (then say so and ignore this)',
        SKIP: '',
        FAIL: '',
      }),
    )
    const sessionName = context.options.sessionCookie
    emit(
      perCookie(
        context,
        HTTP_ONLY,
        (cookie) => {
          const isSession = sessionName ? cookie.name === sessionName : !isCsrfCookie(cookie.name)
          return !isSession || cookie.attributes.has('httponly') ? 'PASS' : 'FAIL'
        },
        {
          PASS: 'the session cookie is out of reach of script (a CSRF cookie may be readable by design)',
          WARN: '',
          SKIP: '',
          FAIL: 'script on the page (an XSS) can read the session cookie',
        },
      ),
    )
    emit(
      perCookie(
        context,
        SAME_SITE,
        (cookie) => (/^(lax|strict)$/i.test(cookie.attributes.get('samesite') ?? '') ? 'PASS' : 'WARN'),
        {
          PASS: 'SameSite=Lax or Strict',
          WARN: 'SameSite absent or None: the cookie rides along on cross-site requests in some browsers',
          SKIP: '',
          FAIL: '',
        },
      ),
    )
  },
}
