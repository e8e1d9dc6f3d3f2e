import type { AuditContext } from '../context.ts'
import { type Finding, type FindingSpec, finding, worst } from '../finding.ts'
import { describeRequest, type ProbeResponse } from '../http-probe.ts'
import type { Check } from './check.ts'

const STACK: FindingSpec = {
  id: 'errors.stack-trace',
  asvs: 'V16.5.1',
  title: 'errors reveal no stack trace or source path',
  fix: 'Answer every error with a generic body from one error handler; log the details server-side only.',
  passMeans:
    'a malformed JSON body, an absurd path and a 404 get answers without stack frames, source paths or exception names (SyntaxError, Traceback…)',
}
const GENERIC: FindingSpec = {
  id: 'errors.generic',
  asvs: 'V16.5.1',
  title: "errors are the application's own, not the framework's",
  fix: "Replace the framework's default error pages and bodies with your own generic error shape; answer bad input with 4xx, not 5xx.",
  passMeans:
    "no framework default error shape (Express' `Cannot GET`, Fastify's {statusCode, error, message} or FST_ERR_ codes, Django/Spring debug pages), no 5xx for malformed input, no echo of the request path",
}

/** Stack frames and source locations of the common runtimes (Node, Python, Java, .NET, PHP, Ruby). */
const STACK_PATTERNS: readonly [RegExp, string][] = [
  [
    /\bat (?:[\w$.<>[\] ]+ )?\(?(?:file:\/\/)?[\w\\/.:-]*[\\/.][\w\\/.-]*:\d+:\d+\)?/,
    'a stack frame ("at …:line:column")',
  ],
  [/Traceback \(most recent call last\)/, 'a Python traceback'],
  [/\bat [\w$.]+\([\w$]+\.java:\d+\)/, 'a Java stack frame'],
  [
    /(?:^|[\s"'(])(?:\/(?:home|usr|var|srv|opt|app|work|src|node_modules|tmp)\/[\w./-]+|[A-Za-z]:\\[\w\\.-]+)/,
    'a server file path',
  ],
  [/\.(?:ts|js|mjs|cjs|py|rb|php|java|cs):\d+/, 'a source location (file:line)'],
  [
    /\b(?:SyntaxError|TypeError|ReferenceError|RangeError|NullPointerException|System\.\w+Exception)\b/,
    'an exception name',
  ],
]

const FRAMEWORK_PATTERNS: readonly [RegExp, string][] = [
  [/<pre>Cannot (?:GET|POST|PUT|PATCH|DELETE|OPTIONS)\b/, "Express' default 404 page"],
  [/\bFST_ERR_[A-Z_]+/, 'a Fastify error code'],
  [/Whitelabel Error Page/, "Spring Boot's default error page"],
  [/DEBUG = True|Django Version:|You're seeing this error because you have/, "Django's debug page"],
  [/Werkzeug Debugger|The debugger caught an exception/, "Werkzeug's debugger"],
]

function fastifyDefaultShape(body: string): boolean {
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>
    return (
      typeof parsed === 'object' &&
      parsed !== null &&
      'statusCode' in parsed &&
      'error' in parsed &&
      'message' in parsed
    )
  } catch {
    return false
  }
}

interface Probe {
  request: string
  response: ProbeResponse
  /** Bad input: a 5xx answer is a finding. */
  malformed: boolean
  /** A string of the request that must not come back in the body. */
  echo?: string
}

function leaksOf(body: string): string[] {
  return STACK_PATTERNS.filter(([pattern]) => pattern.test(body)).map(([, name]) => name)
}

function genericProblems(probe: Probe): string[] {
  const { body, status } = probe.response
  const problems = FRAMEWORK_PATTERNS.filter(([pattern]) => pattern.test(body)).map(([, name]) => name)
  if (fastifyDefaultShape(body)) problems.push("Fastify's default {statusCode, error, message} body")
  if (probe.malformed && status >= 500) problems.push(`${status} for malformed input`)
  if (probe.echo && body.includes(probe.echo)) problems.push('the request path echoed in the body')
  return problems
}

async function probes(context: AuditContext): Promise<Probe[]> {
  const { login } = context.options.paths
  const malformedJson = `{"gatehouse-audit": "${context.marker}",`
  const absurd = `/gatehouse-audit-${context.marker}/%c0%ae%c0%ae/%ff%fe/..%2f..%2fetc%2fpasswd`
  const parse = await context.probe.request({
    method: 'POST',
    path: login,
    headers: { 'content-type': 'application/json' },
    body: malformedJson,
  })
  const path = await context.probe.request({ path: absurd })
  const list: Probe[] = [
    {
      request: describeRequest('POST', login, { 'content-type': 'application/json', body: 'truncated JSON' }),
      response: parse,
      malformed: true,
    },
    {
      request: describeRequest('GET', absurd),
      response: path,
      malformed: true,
      echo: `gatehouse-audit-${context.marker}`,
    },
  ]
  const missing = context.samples.error
  if (missing)
    list.push({
      request: describeRequest('GET', missing.path),
      response: missing.response,
      malformed: false,
      echo: `gatehouse-audit-${context.marker}-missing`,
    })
  return list
}

function summaryOf(probe: Probe): string {
  return `${probe.response.status} ${probe.response.headers['content-type'] ?? '(no content-type)'}`
}

export const errorsCheck: Check = {
  name: 'error responses',
  specs: [STACK, GENERIC],
  async run(context, emit) {
    const list = await probes(context)
    const request = list.map((probe) => probe.request).join('; ')
    const leaks = list.map((probe) => ({ probe, leaks: leaksOf(probe.response.body) }))
    const leaking = leaks.filter((entry) => entry.leaks.length > 0)
    emit(
      finding(
        STACK,
        leaking.length > 0 ? 'FAIL' : 'PASS',
        leaking.length > 0
          ? 'an error body shows internals'
          : 'no stack frame, path or exception name in any error body',
        {
          request: leaking.length > 0 ? leaking.map((entry) => entry.probe.request).join('; ') : request,
          observed:
            leaking.length > 0
              ? leaking.map((entry) => `${summaryOf(entry.probe)}: ${entry.leaks.join(', ')}`).join('; ')
              : list.map(summaryOf).join('; '),
        },
      ),
    )
    const problems = list.map((probe) => ({ probe, problems: genericProblems(probe) }))
    const bad = problems.filter((entry) => entry.problems.length > 0)
    const result: Finding = finding(
      GENERIC,
      worst(bad.length > 0 ? ['WARN'] : ['PASS']),
      bad.length > 0
        ? 'an error is answered in a framework default shape, as a 5xx, or with the input echoed'
        : "every error is a 4xx in the application's own shape",
      {
        request: bad.length > 0 ? bad.map((entry) => entry.probe.request).join('; ') : request,
        observed:
          bad.length > 0
            ? bad.map((entry) => `${summaryOf(entry.probe)}: ${entry.problems.join(', ')}`).join('; ')
            : list.map(summaryOf).join('; '),
      },
    )
    emit(result)
  },
}
