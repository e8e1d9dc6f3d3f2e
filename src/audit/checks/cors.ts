import { type AuditContext, foreignOrigin } from '../context.ts'
import { type FindingSpec, finding } from '../finding.ts'
import { describeRequest, type ProbeResponse } from '../http-probe.ts'
import { authHeaders, describeAuth } from '../session.ts'
import type { Check } from './check.ts'

const REFLECTION: FindingSpec = {
  id: 'cors.origin-reflection',
  asvs: 'V3.4.2',
  title: 'CORS does not trust an arbitrary Origin',
  fix: 'Answer Access-Control-Allow-Origin only for origins on an exact allowlist, never by echoing Origin.',
  passMeans:
    'a foreign Origin gets no Access-Control-Allow-Origin (or `*` without credentials); echoed with Access-Control-Allow-Credentials: true is FAIL, echoed without it WARN',
}
const NULL_ORIGIN: FindingSpec = {
  id: 'cors.null-origin',
  asvs: 'V3.4.2',
  title: 'CORS does not trust Origin: null',
  fix: 'Never allow the origin "null" (sandboxed iframes and file: pages send it; anyone can).',
  passMeans: 'Origin: null gets no Access-Control-Allow-Origin: null (with credentials FAIL, without WARN)',
}
const PREFLIGHT: FindingSpec = {
  id: 'cors.preflight',
  asvs: 'V3.4.2',
  title: 'a foreign preflight is not approved',
  fix: 'Approve preflights (OPTIONS) only for allowlisted origins.',
  passMeans:
    'OPTIONS from a foreign origin asking for POST with content-type and the CSRF header gets no matching Access-Control-Allow-Origin',
}

interface Verdict {
  status: 'PASS' | 'WARN' | 'FAIL'
  detail: string
}

/** What a browser would let `origin` do with this response. */
function judge(response: ProbeResponse, origin: string): Verdict {
  const allowed = response.headers['access-control-allow-origin']?.trim()
  const credentials = response.headers['access-control-allow-credentials']?.trim().toLowerCase() === 'true'
  if (allowed === undefined) return { status: 'PASS', detail: 'no Access-Control-Allow-Origin for it' }
  if (allowed === origin) {
    return credentials
      ? { status: 'FAIL', detail: `${origin} is echoed with credentials: any site can read the user's data` }
      : { status: 'WARN', detail: `${origin} is echoed (no credentials): any site can read these responses` }
  }
  if (allowed === '*') {
    return credentials
      ? { status: 'WARN', detail: '`*` with credentials: browsers refuse it, but the configuration is wrong' }
      : {
          status: 'PASS',
          detail: '`*` without credentials: public data only (V3.4.2 allows it for non-sensitive responses)',
        }
  }
  return { status: 'PASS', detail: `only a fixed origin is allowed (${allowed})` }
}

function observedOf(response: ProbeResponse): string {
  const { headers } = response
  const parts = [
    `${response.status}`,
    `access-control-allow-origin: ${headers['access-control-allow-origin'] ?? '(absent)'}`,
    `access-control-allow-credentials: ${headers['access-control-allow-credentials'] ?? '(absent)'}`,
  ]
  if (headers['access-control-allow-methods'])
    parts.push(`access-control-allow-methods: ${headers['access-control-allow-methods']}`)
  return parts.join(', ')
}

/** The route to ask: the signed-in user's when there is a session, else the JSON sample. */
function routeOf(context: AuditContext): string {
  const authenticated = Object.keys(authHeaders(context)).length > 0
  return authenticated ? context.options.paths.me : (context.samples.json?.path ?? '/')
}

export const corsCheck: Check = {
  name: 'CORS',
  specs: [REFLECTION, NULL_ORIGIN, PREFLIGHT],
  async run(context, emit) {
    const path = routeOf(context)
    const origin = foreignOrigin(context)
    for (const [spec, sent] of [
      [REFLECTION, origin],
      [NULL_ORIGIN, 'null'],
    ] as const) {
      const response = await context.probe.request({
        path,
        headers: { ...authHeaders(context), origin: sent },
      })
      const verdict = judge(response, sent)
      emit(
        finding(spec, verdict.status, verdict.detail, {
          request: describeRequest('GET', path, { ...describeAuth(context), origin: sent }),
          observed: observedOf(response),
        }),
      )
    }
    const preflight = {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': `content-type, ${context.options.csrfHeader}`,
    }
    const target = context.options.paths.login
    const response = await context.probe.request({ method: 'OPTIONS', path: target, headers: preflight })
    const verdict = judge(response, origin)
    emit(
      finding(PREFLIGHT, verdict.status, verdict.detail, {
        request: describeRequest('OPTIONS', target, preflight),
        observed: observedOf(response),
      }),
    )
  },
}
