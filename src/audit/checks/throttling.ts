import { randomBytes } from 'node:crypto'
import { type FindingSpec, finding } from '../finding.ts'
import { describeRequest } from '../http-probe.ts'
import { attemptLogin } from '../session.ts'
import type { Check } from './check.ts'

const THROTTLE: FindingSpec = {
  id: 'throttling.login',
  asvs: 'V6.3.1',
  title: 'repeated failed logins are throttled',
  fix: 'Limit failed logins per account and per client IP (Gatehouse: LOGIN_MAX_FAILURES_PER_ACCOUNT, LOGIN_MAX_FAILURES_PER_IP).',
  passMeans:
    'within --throttle-attempts failed logins of one random unknown email from one IP, the server answers 429 (or 423); the real account is never the one locked',
}

/** How a login route refuses wrong credentials; anything else, before --login proved the route, is not one. */
const LOGIN_REFUSALS = new Set([400, 401, 403, 422])

export const throttlingCheck: Check = {
  name: 'login throttling',
  specs: [THROTTLE],
  applies(context) {
    return context.options.active ? null : 'needs --active (it sends failed logins)'
  },
  async run(context, emit) {
    // An address nobody owns: the lockout it triggers locks out no one (the per-IP count grows
    // by at most --throttle-attempts, which the defaults leave far below Gatehouse's per-IP limit).
    const email = `gatehouse-audit-${randomBytes(8).toString('hex')}@example.invalid`
    const attempts = context.options.throttleAttempts
    const statuses: number[] = []
    const request = `up to ${attempts}× ${describeRequest('POST', context.options.paths.login)} with one unknown email and wrong passwords`
    for (let i = 1; i <= attempts; i++) {
      const response = await attemptLogin(context, email, `wrong-${randomBytes(12).toString('base64url')}`)
      statuses.push(response.status)
      // Without --login nobody proved the route exists; with it, a 404 is the server's answer to
      // an unknown account (an enumeration oracle), and the count goes on.
      if (!context.options.login && i === 1 && !LOGIN_REFUSALS.has(response.status)) {
        emit(
          finding(
            THROTTLE,
            'SKIP',
            `POST ${context.options.paths.login} answered ${response.status}: not the refusal of a login route (set --login-path, --login-format)`,
            { request, observed: `${response.status}` },
          ),
        )
        return
      }
      if (response.status === 429 || response.status === 423) {
        const retry = response.headers['retry-after']
        emit(
          finding(THROTTLE, 'PASS', `throttled after ${i - 1} failed attempts`, {
            request,
            observed: `${[...new Set(statuses.slice(0, -1))].join('/')} ×${i - 1}, then ${response.status}${retry ? ` (retry-after: ${retry})` : ''}`,
          }),
        )
        return
      }
    }
    emit(
      finding(
        THROTTLE,
        'FAIL',
        `${attempts} failed logins for one email from one IP, none refused: passwords can be guessed at full speed`,
        {
          request,
          observed: `${[...new Set(statuses)].join('/')} ×${attempts}`,
        },
      ),
    )
  },
}
