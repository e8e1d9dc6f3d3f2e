/**
 * The audit against our own server in production mode: every check that can apply PASSes, over
 * plain http on loopback (the client sends the __Host- Secure cookies back by hand).
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { ALL_CHECKS, type AuditReport, auditOptions, runAudit } from '../../src/audit/index.ts'
import {
  AUDIT_EMAIL,
  AUDIT_PASSWORD,
  assertFinding,
  gatehouseCli,
  type Running,
  startGatehouse,
} from './servers.ts'

const SUITE = { timeout: 120_000 }
const EVERY_ID = ALL_CHECKS.flatMap((check) => check.specs.map((spec) => spec.id))

describe('gatehouse audit against Gatehouse in production mode', SUITE, () => {
  let server: Running
  before(async () => {
    server = await startGatehouse()
  })
  after(() => server.close())

  test('the CLI with --login --active --json: exit 0, no FAIL, every check present, the session and active checks PASS', async () => {
    const before = server.count()
    const result = await gatehouseCli(['audit', server.url, '--login', AUDIT_EMAIL, '--active', '--json'], {
      GATEHOUSE_AUDIT_PASSWORD: AUDIT_PASSWORD,
    })
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`)
    const report = JSON.parse(result.stdout) as AuditReport
    assert.equal(report.target, `${server.url}/`)
    assert.equal(report.summary.fail, 0, result.stdout)
    assert.equal(report.incomplete, null)
    assert.deepEqual(
      report.findings.map((finding) => finding.id),
      EVERY_ID,
    )
    assert.deepEqual(Object.keys(report.summary).sort(), ['fail', 'pass', 'skip', 'warn'])
    const skipped = report.findings
      .filter((finding) => finding.status === 'SKIP')
      .map((finding) => finding.id)
    // Production serves no HTML (docs are off), and HSTS cannot be judged over http.
    assert.deepEqual(skipped.sort(), [
      'headers.csp.html',
      'headers.frame-ancestors.html',
      'headers.hsts',
      'headers.nosniff.html',
      'headers.referrer-policy.html',
    ])
    for (const id of [
      'cookies.secure',
      'cookies.httponly',
      'cookies.host-prefix',
      'cache.no-store',
      'csrf.no-token',
      'csrf.foreign-origin',
      'csrf.cross-site-fetch',
      'logout.cookie',
      'logout.bearer',
      'enumeration.response',
      'throttling.login',
      'host.allowlist',
      'docs.exposure',
    ]) {
      assert.equal(report.findings.find((finding) => finding.id === id)?.status, 'PASS', id)
    }
    // The password and the session values never reach the output.
    assert.ok(!result.stdout.includes(AUDIT_PASSWORD), 'password in the report')
    assert.doesNotMatch(result.stdout, /__Host-token=(?!<redacted>)/)
    // The report counts what the server received, within the default budget.
    assert.equal(server.count() - before, report.requestsUsed)
    assert.ok(report.requestsUsed <= 200, String(report.requestsUsed))
  })

  test('the real account still signs in after --active (only a random unknown email was locked)', async () => {
    const report = await runAudit(
      auditOptions(new URL(server.url), { login: { email: AUDIT_EMAIL, password: AUDIT_PASSWORD } }),
    )
    assert.equal(report.summary.fail, 0)
    assertFinding(report.findings, 'logout.cookie', 'PASS', 'V7.4.1')
  })

  test('the text report: a table, no colour when stdout is not a terminal, exit 0', async () => {
    const result = await gatehouseCli(['audit', server.url])
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /^STATUS\s+ID\s+ASVS\s+TITLE$/m)
    assert.match(result.stdout, /^PASS\s+headers\.nosniff\.json\s+V3\.4\.4\s/m)
    assert.match(result.stdout, /^SKIP\s+headers\.hsts\s+V3\.4\.1\s/m)
    assert.match(result.stdout, /RFC 6797/)
    assert.ok(!result.stdout.includes('\u001b['), 'ANSI colour in a pipe')
    assert.equal(result.stderr, '', 'a progress line on a non-terminal stderr')
  })
})

describe('gatehouse audit against Gatehouse with GATEHOUSE_DOCS=1 and a CORS allowlist', SUITE, () => {
  let server: Running
  before(async () => {
    server = await startGatehouse({ GATEHOUSE_DOCS: '1', CORS_ORIGINS: 'https://app.example.com' })
  })
  after(() => server.close())

  test('the docs page passes the HTML header checks, and public docs are a WARN, not a FAIL', async () => {
    const report = await runAudit(auditOptions(new URL(server.url)))
    assert.equal(report.summary.fail, 0, JSON.stringify(report.findings.filter((f) => f.status === 'FAIL')))
    for (const id of [
      'headers.csp.html',
      'headers.nosniff.html',
      'headers.frame-ancestors.html',
      'headers.referrer-policy.html',
    ]) {
      assertFinding(report.findings, id, 'PASS', report.findings.find((f) => f.id === id)!.asvs)
    }
    assertFinding(report.findings, 'docs.exposure', 'WARN', 'V13.4.5')
    const docs = report.findings.find((finding) => finding.id === 'docs.exposure')!
    assert.match(docs.evidence.observed, /\/openapi\.json 200/)
    // An allowlist is configured, yet a foreign origin and its preflight get nothing.
    for (const id of ['cors.origin-reflection', 'cors.null-origin', 'cors.preflight'])
      assertFinding(report.findings, id, 'PASS', 'V3.4.2')
  })
})
