/** The pieces the checks judge with: the CSP verdict, Set-Cookie parsing and redaction, the report shapes. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { CookieJar, parseSetCookie, redactSetCookie } from '../../src/audit/cookies.ts'
import { cspProblems, parseCsp } from '../../src/audit/csp.ts'
import type { AuditReport } from '../../src/audit/finding.ts'
import { ALL_CHECKS, reportJson, reportText, useColour } from '../../src/audit/index.ts'

function verdict(header: string, document = true): string[] {
  return cspProblems(parseCsp(header), document).map((problem) => `${problem.severity} ${problem.message}`)
}

describe('CSP verdict (ASVS 5.0 V3.4.3)', () => {
  test('our HTML and API policies have no problem', () => {
    assert.deepEqual(
      verdict(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
      ),
      [],
    )
    assert.deepEqual(verdict("default-src 'none'; frame-ancestors 'none'", false), [])
  })

  test("'unsafe-inline', 'unsafe-eval' and wildcard script sources FAIL; default-src stands in for script-src", () => {
    assert.deepEqual(
      verdict("default-src 'self' 'unsafe-inline' 'unsafe-eval' https:; object-src 'none'; base-uri 'none'"),
      [
        "FAIL 'unsafe-inline' in default-src",
        "FAIL 'unsafe-eval' in script-src",
        'FAIL wildcard script sources: https:',
      ],
    )
    assert.deepEqual(verdict("script-src *.example.com; object-src 'none'; base-uri 'self'"), [
      'FAIL wildcard script sources: *.example.com',
    ])
  })

  test("'unsafe-inline' next to a nonce is only a WARN (CSP2 browsers ignore it)", () => {
    assert.deepEqual(verdict("script-src 'nonce-abc' 'unsafe-inline'; object-src 'none'; base-uri 'none'"), [
      "WARN 'unsafe-inline' in script-src",
    ])
  })

  test('no object-src and no default-src FAILs; base-uri is asked of pages only, since default-src never covers it', () => {
    assert.deepEqual(verdict("script-src 'self'"), [
      'FAIL no object-src and no default-src: plugins may load',
      'WARN no base-uri (default-src does not cover it): an injected <base> can re-point relative script URLs',
    ])
    assert.deepEqual(verdict("default-src 'self'", false), ["WARN object-src is 'self', not 'none'"])
  })

  test('a repeated directive counts once, the first (CSP §2.2)', () => {
    assert.deepEqual(parseCsp("script-src 'self'; script-src *").get('script-src'), ["'self'"])
  })
})

describe('Set-Cookie parsing and redaction', () => {
  test('attributes are read case-insensitively, the value is never shown', () => {
    const header = '__Host-token=s3cr3t-value; Max-Age=60; Path=/; HTTPONLY; secure; SameSite=Lax'
    const cookie = parseSetCookie(header)!
    assert.equal(cookie.name, '__Host-token')
    assert.equal(cookie.attributes.get('samesite'), 'Lax')
    assert.ok(cookie.attributes.has('httponly') && cookie.attributes.has('secure'))
    assert.equal(
      redactSetCookie(header),
      '__Host-token=<redacted>; Max-Age=60; Path=/; HTTPONLY; secure; SameSite=Lax',
    )
  })

  test('the jar sends Secure cookies back over http, and drops the ones the server expires', () => {
    const jar = new CookieJar()
    jar.store(['__Host-token=a; Path=/; Secure; HttpOnly', '__Host-csrftoken=b; Path=/; Secure'])
    assert.equal(jar.header(), '__Host-token=a; __Host-csrftoken=b')
    assert.equal(jar.csrfValue(), 'b')
    jar.store([
      '__Host-token=; Max-Age=0; Path=/',
      '__Host-csrftoken=; Expires=Thu, 01 Jan 1970 00:00:00 GMT',
    ])
    assert.equal(jar.header(), undefined)
  })
})

describe('reports', () => {
  const report: AuditReport = {
    target: 'http://127.0.0.1:1/',
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:01.000Z',
    requestsUsed: 3,
    requestBudget: 200,
    incomplete: null,
    findings: [
      {
        id: 'a.pass',
        asvs: 'V3.4.4',
        status: 'PASS',
        title: 'ok',
        detail: 'fine',
        evidence: { request: 'GET /', observed: '200' },
        fix: 'nothing',
      },
      {
        id: 'b.fail',
        asvs: 'V3.3.4',
        status: 'FAIL',
        title: 'bad',
        detail: 'broken',
        evidence: { request: 'GET /x', observed: 'set-cookie: sid=<redacted>' },
        fix: 'Set HttpOnly.',
      },
    ],
    summary: { pass: 1, warn: 0, fail: 1, skip: 0 },
  }

  test('JSON: the stable top-level shape', () => {
    const parsed = JSON.parse(reportJson(report))
    assert.deepEqual(Object.keys(parsed), [
      'target',
      'startedAt',
      'finishedAt',
      'requestsUsed',
      'requestBudget',
      'incomplete',
      'findings',
      'summary',
    ])
    assert.deepEqual(Object.keys(parsed.findings[0]), [
      'id',
      'asvs',
      'status',
      'title',
      'detail',
      'evidence',
      'fix',
    ])
  })

  test('text: a row per finding, details and fix for the non-PASS ones, colour only when asked', () => {
    const plain = reportText(report)
    assert.match(plain, /^PASS\s+a\.pass\s+V3\.4\.4\s+ok$/m)
    assert.match(
      plain,
      /^FAIL b\.fail \(V3\.3\.4\): broken\n {2}request: {2}GET \/x\n {2}observed: set-cookie: sid=<redacted>\n {2}fix: {6}Set HttpOnly\.$/m,
    )
    assert.doesNotMatch(plain, /fix:\s+nothing/)
    assert.ok(!plain.includes('\u001b['))
    assert.ok(reportText(report, true).includes('\u001b[31mFAIL'))
  })

  test('colour: a terminal without NO_COLOR only', () => {
    assert.equal(useColour({ isTTY: true }, {}), true)
    assert.equal(useColour({ isTTY: true }, { NO_COLOR: '1' }), false)
    assert.equal(useColour({ isTTY: false }, {}), false)
    assert.equal(useColour({}, {}), false)
  })
})

describe('the check catalogue', () => {
  const specs = ALL_CHECKS.flatMap((check) => check.specs)

  test('ids are unique and dotted; every ASVS id is a 5.0 requirement id (Vchapter.section.item)', () => {
    assert.equal(new Set(specs.map((spec) => spec.id)).size, specs.length)
    for (const spec of specs) {
      assert.match(spec.id, /^[a-z]+(\.[a-z-]+)+$/, spec.id)
      assert.match(spec.asvs, /^V\d{1,2}\.\d{1,2}\.\d{1,2}$/, spec.id)
      assert.ok(spec.fix.endsWith('.') && spec.fix.length > 10, `${spec.id}: the fix is one sentence`)
    }
  })
})
