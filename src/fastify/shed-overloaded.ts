import type { onRequestHookHandler } from 'fastify'
import type { Accounts } from '../accounts/accounts.ts'
import { overloaded } from '../accounts/hash-admission.ts'

/**
 * A route hook for the routes that hash a password: when every hash slot and queue place is
 * taken, the request is refused before its body is read or validated (OWASP Denial of Service
 * Cheat Sheet: shed load as early as possible). The domain sheds again at the hash itself, so
 * this is only the cheaper of two identical answers.
 */
export function shedWhenOverloaded(accounts: Accounts): onRequestHookHandler {
  return (_request, _reply, done) => {
    if (accounts.isOverloaded()) done(overloaded())
    else done()
  }
}
