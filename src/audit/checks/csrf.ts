import { foreignOrigin } from '../context.ts'
import { type FindingSpec, finding } from '../finding.ts'
import { describeRequest, type ProbeResponse } from '../http-probe.ts'
import { refreshSession } from '../session.ts'
import type { Check } from './check.ts'

const NO_TOKEN: FindingSpec = {
  id: 'csrf.no-token',
  asvs: 'V3.5.1',
  title: 'a cookie-authenticated unsafe request without CSRF token is refused',
  fix: 'Require an anti-forgery token (or a non-safelisted header) on every unsafe request that a cookie authenticates.',
  passMeans:
    'POST --logout-path with the session cookie and no CSRF header is refused (4xx other than 404/405)',
}
const FOREIGN_ORIGIN: FindingSpec = {
  id: 'csrf.foreign-origin',
  asvs: 'V3.5.1',
  title: 'an unsafe request from a foreign Origin is refused',
  fix: 'Refuse unsafe requests whose Origin is neither yours nor allowlisted, even with a valid token.',
  passMeans: 'the same POST with a valid CSRF token but Origin: <foreign> is refused',
}
const CROSS_SITE: FindingSpec = {
  id: 'csrf.cross-site-fetch',
  asvs: 'V3.5.3',
  title: 'an unsafe request marked Sec-Fetch-Site: cross-site is refused',
  fix: 'Refuse unsafe requests with Sec-Fetch-Site: cross-site (OWASP CSRF Prevention Cheat Sheet, Fetch Metadata).',
  passMeans: 'the same POST with a valid CSRF token but Sec-Fetch-Site: cross-site is refused',
}

type Outcome = 'refused' | 'accepted' | 'unknown'

function outcomeOf(response: ProbeResponse): Outcome {
  if (response.status >= 200 && response.status < 400) return 'accepted'
  if (response.status >= 400 && response.status < 500 && response.status !== 404 && response.status !== 405)
    return 'refused'
  return 'unknown'
}

export const csrfCheck: Check = {
  name: 'CSRF',
  specs: [NO_TOKEN, FOREIGN_ORIGIN, CROSS_SITE],
  applies(context) {
    if (!context.session)
      return 'needs --login: only a cookie session is exposed to CSRF (a bearer token is not sent by browsers on their own)'
    if (!context.session.jar.header()) return 'the login set no cookie: nothing rides along cross-site'
    return null
  },
  async run(context, emit) {
    const path = context.options.paths.logout
    const header = context.options.csrfHeader
    const cases: [FindingSpec, (token: string | undefined) => Record<string, string>][] = [
      [NO_TOKEN, () => ({})],
      [
        FOREIGN_ORIGIN,
        (token) => ({ origin: foreignOrigin(context), ...(token ? { [header]: token } : {}) }),
      ],
      [CROSS_SITE, (token) => ({ 'sec-fetch-site': 'cross-site', ...(token ? { [header]: token } : {}) })],
    ]
    for (const [spec, extra] of cases) {
      const session = context.session!
      const headers = extra(session.csrfToken)
      const shown = Object.fromEntries(
        Object.entries(headers).map(([name, value]) => [name, name === header ? '<valid token>' : value]),
      )
      const response = await context.probe.request({
        method: 'POST',
        path,
        headers: { cookie: session.jar.header()!, ...headers },
      })
      const request = describeRequest('POST', path, { cookie: session.jar.describe(), ...shown })
      const observed = `${response.status}`
      const outcome = outcomeOf(response)
      if (outcome === 'refused') {
        const caveat =
          spec !== NO_TOKEN && !session.csrfToken
            ? ' (no CSRF token was known, so the missing token may be why)'
            : ''
        emit(finding(spec, 'PASS', `refused with ${response.status}${caveat}`, { request, observed }))
      } else if (outcome === 'accepted') {
        emit(
          finding(
            spec,
            'FAIL',
            `accepted with ${response.status}: a page on any site can make the browser send this request`,
            { request, observed },
          ),
        )
        // The forged logout went through: sign in again for the checks that follow.
        await refreshSession(context)
      } else {
        emit(
          finding(
            spec,
            'SKIP',
            `POST ${path} answered ${response.status}, neither accepted nor refused; set --logout-path to an unsafe route the session may call`,
            { request, observed },
          ),
        )
      }
    }
  },
}
