import type { AuditContext, Sample } from '../context.ts'
import { cspProblems, parseCsp } from '../csp.ts'
import { type Finding, type FindingSpec, finding, type Status, skipped, worst } from '../finding.ts'
import { describeRequest } from '../http-probe.ts'
import type { Check } from './check.ts'

type Kind = 'json' | 'html' | 'error'
const KINDS: readonly Kind[] = ['json', 'html', 'error']
const KIND_NAME: Record<Kind, string> = {
  json: 'a JSON response',
  html: 'an HTML page',
  error: 'a 404 error',
}

function perKind(base: Omit<FindingSpec, 'id' | 'title'> & { id: string; title: string }) {
  return Object.fromEntries(
    KINDS.map((kind) => [
      kind,
      { ...base, id: `${base.id}.${kind}`, title: `${base.title} on ${KIND_NAME[kind]}` },
    ]),
  ) as Record<Kind, FindingSpec>
}

const NOSNIFF = perKind({
  id: 'headers.nosniff',
  asvs: 'V3.4.4',
  title: 'X-Content-Type-Options: nosniff',
  fix: 'Send X-Content-Type-Options: nosniff on every response.',
  passMeans: 'the response carries X-Content-Type-Options: nosniff',
})
const FRAMING = perKind({
  id: 'headers.frame-ancestors',
  asvs: 'V3.4.6',
  title: 'framing forbidden (CSP frame-ancestors)',
  fix: "Send Content-Security-Policy frame-ancestors 'none' (or the origins allowed to embed), not only X-Frame-Options.",
  passMeans:
    'CSP frame-ancestors is set (X-Frame-Options alone is WARN: ASVS calls it obsolete; neither is FAIL)',
})
const CSP = perKind({
  id: 'headers.csp',
  asvs: 'V3.4.3',
  title: 'Content-Security-Policy quality',
  fix: "Send a CSP without 'unsafe-inline'/'unsafe-eval' or wildcard script sources, with object-src 'none' and base-uri 'none' (JSON: default-src 'none').",
  passMeans:
    "a CSP restricts scripts (no 'unsafe-inline', 'unsafe-eval', *, http:, https:, data:), object-src resolves to 'none', HTML pages set base-uri; a JSON or error response without CSP is WARN, an HTML page without one FAIL",
})
const REFERRER = perKind({
  id: 'headers.referrer-policy',
  asvs: 'V3.4.5',
  title: 'Referrer-Policy',
  fix: 'Send Referrer-Policy: no-referrer (APIs) or strict-origin-when-cross-origin (pages).',
  passMeans:
    'Referrer-Policy is no-referrer, same-origin, strict-origin or strict-origin-when-cross-origin; missing or origin(-when-cross-origin) is WARN; unsafe-url or no-referrer-when-downgrade FAIL',
})
const HSTS: FindingSpec = {
  id: 'headers.hsts',
  asvs: 'V3.4.1',
  title: 'Strict-Transport-Security (https only)',
  fix: 'Send Strict-Transport-Security: max-age=31536000; includeSubDomains on every https response.',
  passMeans:
    'over https every sampled response has HSTS with max-age ≥ 31536000 (no includeSubDomains: WARN); over http SKIP, because browsers ignore HSTS received over http (RFC 6797 §8.1)',
}
const BANNER: FindingSpec = {
  id: 'headers.server-banner',
  asvs: 'V13.4.6',
  title: 'no X-Powered-By, no version in Server',
  fix: 'Remove X-Powered-By and any product version from Server (and similar banners).',
  passMeans: 'no sampled response has X-Powered-By, X-AspNet-Version or a Server header naming a version',
}

const GOOD_REFERRER = new Set([
  'no-referrer',
  'same-origin',
  'strict-origin',
  'strict-origin-when-cross-origin',
])
const LEAKY_REFERRER = new Set(['unsafe-url', 'no-referrer-when-downgrade'])

function evidenceOf(sample: Sample, header: string): { request: string; observed: string } {
  const value = sample.response.headers[header]
  return {
    request: describeRequest('GET', sample.path),
    observed: `${sample.response.status}, ${header}: ${value === undefined ? '(absent)' : value}`,
  }
}

function nosniff(sample: Sample, spec: FindingSpec): Finding {
  const ok = sample.response.headers['x-content-type-options']?.trim().toLowerCase() === 'nosniff'
  return finding(
    spec,
    ok ? 'PASS' : 'FAIL',
    ok ? 'nosniff is set' : 'browsers may sniff this body as another type',
    evidenceOf(sample, 'x-content-type-options'),
  )
}

function framing(sample: Sample, spec: FindingSpec): Finding {
  const csp = sample.response.headers['content-security-policy']
  const ancestors = csp === undefined ? undefined : parseCsp(csp).get('frame-ancestors')
  const xfo = sample.response.headers['x-frame-options']?.trim().toUpperCase()
  const observed = `${sample.response.status}, frame-ancestors: ${ancestors ? ancestors.join(' ') : '(absent)'}, x-frame-options: ${xfo ?? '(absent)'}`
  const request = describeRequest('GET', sample.path)
  if (ancestors) {
    const wide = ancestors.includes('*') || ancestors.includes('https:') || ancestors.includes('http:')
    return finding(
      spec,
      wide ? 'FAIL' : 'PASS',
      wide ? 'frame-ancestors lets any site embed it' : 'frame-ancestors restricts embedding',
      { request, observed },
    )
  }
  if (xfo === 'DENY' || xfo === 'SAMEORIGIN') {
    return finding(spec, 'WARN', 'only X-Frame-Options, which ASVS 5.0 V3.4.6 calls obsolete', {
      request,
      observed,
    })
  }
  return finding(spec, 'FAIL', 'any site can frame this response (clickjacking)', { request, observed })
}

function csp(sample: Sample, spec: FindingSpec, kind: Kind): Finding {
  const header = sample.response.headers['content-security-policy']
  const evidence = evidenceOf(sample, 'content-security-policy')
  const document = kind === 'html'
  if (header === undefined) {
    return document
      ? finding(spec, 'FAIL', 'an HTML page without Content-Security-Policy', evidence)
      : finding(
          spec,
          'WARN',
          "no CSP; an API response should send default-src 'none'; frame-ancestors 'none' (OWASP REST Security Cheat Sheet)",
          evidence,
        )
  }
  const problems = cspProblems(parseCsp(header), document)
  if (problems.length === 0)
    return finding(spec, 'PASS', 'the policy restricts scripts, objects and base URIs', evidence)
  const status = worst(problems.map((problem) => problem.severity))
  return finding(spec, status, problems.map((problem) => problem.message).join('; '), evidence)
}

function referrer(sample: Sample, spec: FindingSpec): Finding {
  const evidence = evidenceOf(sample, 'referrer-policy')
  const header = sample.response.headers['referrer-policy']
  if (header === undefined) {
    return finding(
      spec,
      'WARN',
      'absent: the browser default (strict-origin-when-cross-origin) applies, or an older, leakier one',
      evidence,
    )
  }
  // The last policy a browser understands wins (W3C Referrer Policy §8.1).
  const policy =
    header
      .split(',')
      .map((token) => token.trim().toLowerCase())
      .filter(Boolean)
      .at(-1) ?? ''
  if (GOOD_REFERRER.has(policy))
    return finding(spec, 'PASS', `${policy} keeps paths and queries from other sites`, evidence)
  if (LEAKY_REFERRER.has(policy))
    return finding(
      spec,
      'FAIL',
      `${policy} sends full URLs, query strings included, to other sites`,
      evidence,
    )
  return finding(spec, 'WARN', `${policy} sends this origin to other sites`, evidence)
}

function sampled(context: AuditContext): Sample[] {
  const { json, html, error } = context.samples
  return [json, html, error].filter((sample): sample is Sample => sample !== undefined)
}

function hsts(context: AuditContext): Finding {
  const samples = sampled(context)
  const seen = samples
    .map((sample) => `${sample.path}: ${sample.response.headers['strict-transport-security'] ?? '(absent)'}`)
    .join('; ')
  const request = samples.map((sample) => describeRequest('GET', sample.path)).join('; ')
  if (!context.probe.isHttps) {
    return finding(
      HSTS,
      'SKIP',
      'the target is plain http: browsers ignore HSTS received over http (RFC 6797 §8.1), so audit the https URL your users reach',
      { request, observed: seen },
    )
  }
  const statuses: Status[] = samples.map((sample) => {
    const header = sample.response.headers['strict-transport-security']
    const maxAge = Number(/max-age\s*=\s*"?(\d+)/i.exec(header ?? '')?.[1] ?? Number.NaN)
    if (!(maxAge >= 31_536_000)) return 'FAIL'
    return /includesubdomains/i.test(header ?? '') ? 'PASS' : 'WARN'
  })
  const status = worst(statuses)
  const detail =
    status === 'PASS'
      ? 'HSTS for a year or more, subdomains included'
      : status === 'WARN'
        ? 'HSTS without includeSubDomains (ASVS 5.0 L2 asks for it)'
        : 'HSTS missing or max-age under one year (31536000 s)'
  return finding(HSTS, status, detail, { request, observed: seen })
}

function banner(context: AuditContext): Finding {
  const leaks: string[] = []
  for (const sample of sampled(context)) {
    const { headers } = sample.response
    for (const name of ['x-powered-by', 'x-aspnet-version', 'x-aspnetmvc-version']) {
      if (headers[name] !== undefined) leaks.push(`${sample.path}: ${name}: ${headers[name]}`)
    }
    const server = headers.server
    if (server !== undefined && /\d/.test(server)) leaks.push(`${sample.path}: server: ${server}`)
  }
  const request = sampled(context)
    .map((sample) => describeRequest('GET', sample.path))
    .join('; ')
  const servers = [
    ...new Set(sampled(context).map((sample) => sample.response.headers.server ?? '(absent)')),
  ].join(', ')
  if (leaks.length === 0)
    return finding(BANNER, 'PASS', 'no framework or version banner', {
      request,
      observed: `server: ${servers}`,
    })
  return finding(BANNER, 'FAIL', 'the response names the software (and version) behind it', {
    request,
    observed: [...new Set(leaks)].join('; '),
  })
}

export const headersCheck: Check = {
  name: 'security headers',
  specs: [
    ...KINDS.flatMap((kind) => [NOSNIFF[kind], FRAMING[kind], CSP[kind], REFERRER[kind]]),
    HSTS,
    BANNER,
  ],
  async run(context, emit) {
    for (const kind of KINDS) {
      const sample = context.samples[kind]
      if (!sample) {
        const tried =
          kind === 'error' ? '' : ` (tried ${context.samples.tried[kind].join(', ')}; set --${kind}-path)`
        const reason = `no ${kind === 'json' ? 'JSON' : 'HTML'} response with a 2xx status${tried}`
        for (const spec of [NOSNIFF[kind], FRAMING[kind], CSP[kind], REFERRER[kind]])
          emit(skipped(spec, reason))
        continue
      }
      emit(nosniff(sample, NOSNIFF[kind]))
      emit(framing(sample, FRAMING[kind]))
      emit(csp(sample, CSP[kind], kind))
      emit(referrer(sample, REFERRER[kind]))
    }
    if (sampled(context).length === 0) return
    emit(hsts(context))
    emit(banner(context))
  },
}
