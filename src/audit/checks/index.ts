import type { Check } from './check.ts'
import { corsCheck } from './cors.ts'
import { csrfCheck } from './csrf.ts'
import { docsCheck } from './docs-exposure.ts'
import { enumerationCheck } from './enumeration.ts'
import { errorsCheck } from './errors.ts'
import { headersCheck } from './headers.ts'
import { hostCheck } from './host.ts'
import { logoutCheck } from './logout.ts'
import { cookiesCheck } from './session-cookies.ts'
import { throttlingCheck } from './throttling.ts'

/** Checks that need no session, run before signing in. */
export const ANONYMOUS_CHECKS: readonly Check[] = [headersCheck, errorsCheck, docsCheck, hostCheck]

/**
 * Run after signing in, in this order: CSRF may end the session (then signs in again), logout ends
 * it for good, and the active checks come last so their failed logins cannot disturb the others.
 */
export const SESSION_CHECKS: readonly Check[] = [
  corsCheck,
  cookiesCheck,
  csrfCheck,
  logoutCheck,
  enumerationCheck,
  throttlingCheck,
]

export const ALL_CHECKS: readonly Check[] = [...ANONYMOUS_CHECKS, ...SESSION_CHECKS]
