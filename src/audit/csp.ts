/** A Content-Security-Policy header as directive name → sources (CSP Level 3 §2.2). */
export type Csp = Map<string, string[]>

/** Parses the first policy (a `,` starts another, which can only tighten it). */
export function parseCsp(header: string): Csp {
  const policy = new Map<string, string[]>()
  for (const directive of (header.split(',')[0] ?? '').split(';')) {
    const [name, ...sources] = directive.trim().split(/\s+/)
    if (!name) continue
    const key = name.toLowerCase()
    // CSP §2.2: a repeated directive is ignored after the first.
    if (!policy.has(key))
      policy.set(
        key,
        sources.map((source) => source.toLowerCase()),
      )
  }
  return policy
}

export interface CspProblem {
  severity: 'FAIL' | 'WARN'
  message: string
}

/** Sources that let any script in: the wildcard and whole schemes (OWASP CSP Cheat Sheet). */
const PERMISSIVE_SCRIPT_SOURCES = new Set(['*', 'http:', 'https:', 'data:', 'blob:', 'filesystem:'])

/**
 * What ASVS 5.0 V3.4.3 asks of a policy: scripts restricted to an allowlist, nonces or hashes, no
 * 'unsafe-inline' / 'unsafe-eval', object-src 'none' and base-uri 'none'. `document` says whether
 * the response renders as a page (HTML), where a missing base-uri matters.
 */
export function cspProblems(csp: Csp, document: boolean): CspProblem[] {
  const problems: CspProblem[] = []
  const defaults = csp.get('default-src')
  const scripts = csp.get('script-src') ?? defaults
  if (!scripts) {
    problems.push({ severity: 'FAIL', message: 'no script-src and no default-src: any script may load' })
  } else if (!(scripts.length === 1 && scripts[0] === "'none'")) {
    const hasNonceOrHash = scripts.some((s) => /^'(nonce|sha256|sha384|sha512)-/.test(s))
    if (scripts.includes("'unsafe-inline'")) {
      // CSP Level 2+: a nonce or hash makes browsers ignore 'unsafe-inline' (kept for old ones).
      problems.push({
        severity: hasNonceOrHash ? 'WARN' : 'FAIL',
        message: `'unsafe-inline' in ${csp.has('script-src') ? 'script-src' : 'default-src'}`,
      })
    }
    if (scripts.includes("'unsafe-eval'"))
      problems.push({ severity: 'FAIL', message: "'unsafe-eval' in script-src" })
    const wide = scripts.filter((s) => PERMISSIVE_SCRIPT_SOURCES.has(s) || s.startsWith('*'))
    if (wide.length > 0)
      problems.push({ severity: 'FAIL', message: `wildcard script sources: ${wide.join(' ')}` })
  }
  const objects = csp.get('object-src') ?? defaults
  if (!objects)
    problems.push({ severity: 'FAIL', message: 'no object-src and no default-src: plugins may load' })
  else if (!(objects.length === 1 && objects[0] === "'none'")) {
    problems.push({ severity: 'WARN', message: `object-src is ${objects.join(' ')}, not 'none'` })
  }
  // base-uri does not fall back to default-src (CSP Level 3 §6.2.1).
  if (document && !csp.has('base-uri')) {
    problems.push({
      severity: 'WARN',
      message:
        'no base-uri (default-src does not cover it): an injected <base> can re-point relative script URLs',
    })
  }
  return problems
}
