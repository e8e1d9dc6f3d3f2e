/**
 * Server bugs the fuzz has found and src has not fixed yet. The suite fails on them by default;
 * `FUZZ_KNOWN=allow` reports them without failing, so the rest can run green meanwhile.
 * Delete an entry once its fix lands (the suite says when an allowed entry matched nothing).
 */
import type { Violation } from './checks.ts'
import type { RequestSpec } from './requests.ts'
import type { Answer, Concrete } from './send.ts'

export interface KnownFailure {
  id: string
  /** What is wrong and where the fix belongs. */
  description: string
  /** A dedicated test in openapi-fuzz.test.ts checks it (the random fuzz steers clear of it). */
  probed?: true
  matches(spec: RequestSpec, request: Concrete, answer: Answer, violation: Violation): boolean
}

export const KNOWN_FAILURES: KnownFailure[] = []

export const allowKnown = process.env.FUZZ_KNOWN === 'allow'

/** Is this known failure allowed in this run (FUZZ_KNOWN=allow and still listed)? */
export const isAllowed = (id: string) => allowKnown && KNOWN_FAILURES.some((known) => known.id === id)

export function knownFailureOf(
  spec: RequestSpec,
  request: Concrete,
  answer: Answer,
  violation: Violation,
): KnownFailure | undefined {
  return KNOWN_FAILURES.find((known) => known.matches(spec, request, answer, violation))
}
