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

export const KNOWN_FAILURES: KnownFailure[] = [
  {
    id: 'expect-417',
    description:
      "An Expect header other than 100-continue gets Node's own bare 417 (empty body, none of our " +
      'headers): the HTTP server has no `checkExpectation` listener. Fix in src/fastify/server-options.ts ' +
      'or build-app.ts: answer it as `{"detail","code"}` with the API headers.',
    matches: (_spec, _request, answer) => answer.status === 417,
  },
  {
    id: 'connect-no-answer',
    description:
      'CONNECT gets no answer at all: Node destroys the socket when the server has no `connect` ' +
      'listener. Fix: a `connect` listener that writes our 405 (or 400) JSON with the API headers, then closes.',
    matches: (_spec, request, _answer, violation) =>
      request.method.toUpperCase() === 'CONNECT' && violation.rule === 'no-answer',
  },
  {
    id: 'cors-preflight-text',
    description:
      "OPTIONS from an allowed origin without Access-Control-Request-Method gets @fastify/cors's " +
      'strictPreflight answer: 400 text/plain "Invalid Preflight Request", not our JSON. Fix in ' +
      'src/fastify/browser/cors.ts (answer that case itself, or strictPreflight off and refuse in a hook).',
    matches: (_spec, request, answer) =>
      request.method.toUpperCase() === 'OPTIONS' &&
      answer.status === 400 &&
      answer.body.toString() === 'Invalid Preflight Request',
  },
  {
    id: 'head-error-body',
    description:
      'A HEAD request the HTTP parser refuses (e.g. headers over 16 KiB: 431) is answered with the ' +
      "JSON body, which a HEAD answer must not carry (RFC 9110 §9.3.2); Node's client then fails with " +
      '"Data after Connection: close". Fix in src/fastify/edge-errors.ts: omit the body when the raw ' +
      'request starts with "HEAD ".',
    matches: (_spec, _request, _answer, violation) => violation.rule === 'head-with-body',
  },
  {
    id: 'upgrade-then-refused',
    description:
      'After a request with `Connection: upgrade` + `Upgrade: websocket` (answered normally, kept ' +
      'alive), a request the HTTP parser refuses on the same connection (headers over 16 KiB, a ' +
      "lowercase method) gets no answer until the headers timeout (20 s), then a 408: Node's parser stops " +
      'refusing there and waits (plain http.createServer does the same). The fuzz client keeps such ' +
      'requests on connections of their own; openapi-fuzz.test.ts probes it directly. Fix: answer ' +
      'a request that carries Upgrade with `Connection: close` (onSend, or an `upgrade` listener).',
    probed: true,
    matches: () => false,
  },
]

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
