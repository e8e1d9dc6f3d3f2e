import { randomBytes } from 'node:crypto'
import type { AuditContext } from '../context.ts'
import { CookieJar } from '../cookies.ts'
import { type FindingSpec, finding, skipped } from '../finding.ts'
import { describeRequest, type ProbeResponse } from '../http-probe.ts'
import { attemptLogin } from '../session.ts'
import { median, quantile } from '../stats.ts'
import type { Check } from './check.ts'

const RESPONSE: FindingSpec = {
  id: 'enumeration.response',
  asvs: 'V6.3.8',
  title: 'login answers the same for an unknown email and a wrong password',
  fix: 'Answer a failed login with one status and one body whether or not the account exists.',
  passMeans:
    'failed logins of unknown emails and of the --login account with wrong passwords get identical statuses and bodies',
}
const TIMING: FindingSpec = {
  id: 'enumeration.timing',
  asvs: 'V6.3.8',
  title: 'login takes as long for an unknown email as for a wrong password',
  fix: 'Verify a password hash for unknown accounts too (a dummy hash), so both failures cost the same.',
  passMeans:
    'median times differ by less than 10 ms (WARN from 10 ms; FAIL from 30 ms when the interquartile ranges do not overlap)',
}

/** The timing verdict's thresholds (documented in docs/audit.md). */
export const TIMING_WARN_MS = 10
export const TIMING_FAIL_MS = 30
/** Wrong passwords in a row before a correct login resets the account's failure count. */
const RESET_EVERY = 3

function unknownEmail(): string {
  return `gatehouse-audit-${randomBytes(8).toString('hex')}@example.invalid`
}

function wrongPassword(): string {
  return `wrong-${randomBytes(12).toString('base64url')}`
}

/** The body with numbers, ids and timestamps blanked: what is left must be the same. */
function shapeOf(response: ProbeResponse): string {
  return `${response.status} ${response.body.replace(/[0-9a-f]{8,}|\d+/gi, '#')}`
}

/** A correct login and its logout: the account's consecutive-failure count starts again. */
async function resetFailures(context: AuditContext): Promise<void> {
  const login = context.options.login!
  const jar = new CookieJar()
  const response = await attemptLogin(context, login.email, login.password, jar)
  if (response.status < 200 || response.status >= 300) return
  jar.store(response.setCookies)
  const cookie = jar.header()
  if (!cookie) return
  let token = jar.csrfValue()
  try {
    token = (JSON.parse(response.body) as { csrf_token?: string }).csrf_token ?? token
  } catch {
    // not JSON: the cookie's token, if any
  }
  await context.probe.request({
    method: 'POST',
    path: context.options.paths.logout,
    headers: { cookie, ...(token ? { [context.options.csrfHeader]: token } : {}) },
  })
}

export const enumerationCheck: Check = {
  name: 'account enumeration',
  specs: [RESPONSE, TIMING],
  applies(context) {
    if (!context.options.active) return 'needs --active (it sends failed logins)'
    if (!context.options.login) return 'needs --login: a known account to compare with'
    return null
  },
  async run(context, emit) {
    const login = context.options.login!
    const samples = Math.max(15, context.options.timingSamples)
    const unknown: ProbeResponse[] = []
    const wrong: ProbeResponse[] = []
    // Interleaved, so load on the machine weighs on both series alike.
    for (let i = 0; i < samples; i++) {
      unknown.push(await attemptLogin(context, unknownEmail(), wrongPassword()))
      wrong.push(await attemptLogin(context, login.email, wrongPassword()))
      if ((i + 1) % RESET_EVERY === 0) await resetFailures(context)
    }
    await resetFailures(context)
    const request = `${samples}× ${describeRequest('POST', context.options.paths.login)} with an unknown email, and ${samples}× with ${login.email} and a wrong password, alternating`
    const throttled = [...unknown, ...wrong].filter((response) => response.status === 429).length
    if (throttled > 0) {
      const detail = `${throttled} of ${2 * samples} attempts were throttled (429): the comparison would measure the throttle`
      emit(skipped(RESPONSE, detail, request))
      emit(skipped(TIMING, detail, request))
      return
    }
    const unknownShapes = new Set(unknown.map(shapeOf))
    const wrongShapes = new Set(wrong.map(shapeOf))
    const same =
      unknownShapes.size === wrongShapes.size && [...unknownShapes].every((shape) => wrongShapes.has(shape))
    const statuses = (list: ProbeResponse[]) =>
      [...new Set(list.map((response) => response.status))].join('/')
    const observed = `unknown email: ${statuses(unknown)}, wrong password: ${statuses(wrong)}${same ? ', same bodies' : ', bodies differ'}`
    emit(
      same
        ? finding(RESPONSE, 'PASS', 'the two failures are indistinguishable by status and body', {
            request,
            observed,
          })
        : finding(RESPONSE, 'FAIL', 'the answer tells whether the account exists', { request, observed }),
    )
    const tu = unknown.map((response) => response.durationMs)
    const tw = wrong.map((response) => response.durationMs)
    const mu = median(tu)
    const mw = median(tw)
    const difference = Math.abs(mw - mu)
    const [slow, fast] = mw >= mu ? [tw, tu] : [tu, tw]
    const separated = quantile(slow, 0.25) > quantile(fast, 0.75)
    const timing = `median unknown email ${mu.toFixed(1)} ms, wrong password ${mw.toFixed(1)} ms, difference ${difference.toFixed(1)} ms${separated ? ', interquartile ranges apart' : ', interquartile ranges overlap'}`
    const status =
      difference >= TIMING_FAIL_MS && separated ? 'FAIL' : difference >= TIMING_WARN_MS ? 'WARN' : 'PASS'
    const detail =
      status === 'PASS'
        ? 'no measurable difference'
        : status === 'FAIL'
          ? 'the time of a failed login tells whether the account exists'
          : 'a small difference: re-run, or measure closer to the server'
    emit(finding(TIMING, status, detail, { request, observed: timing }))
  },
}
