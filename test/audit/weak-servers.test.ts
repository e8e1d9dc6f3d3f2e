/**
 * Servers that each get one thing wrong: the audit must say FAIL, under the right ASVS 5.0 id,
 * and must not blame what they get right.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, describe, test } from 'node:test'
import { type AuditReport, auditOptions, runAudit } from '../../src/audit/index.ts'
import {
  AUDIT_EMAIL,
  AUDIT_PASSWORD,
  assertFinding,
  cookieOf,
  GOOD_HEADERS,
  json,
  type Running,
  startServer,
} from './servers.ts'

const SUITE = { timeout: 120_000 }
const servers: Running[] = []
after(async () => {
  for (const server of servers) await server.close()
})

async function audit(
  server: Running,
  overrides: Parameters<typeof auditOptions>[1] = {},
): Promise<AuditReport> {
  return runAudit(auditOptions(new URL(server.url), { timeoutMs: 5000, deadlineMs: 60_000, ...overrides }))
}

const login = { email: AUDIT_EMAIL, password: AUDIT_PASSWORD }

/** A minimal session API: /login sets `setCookie(token)`, /me and /logout read it. */
function sessionApi(options: {
  setCookie: (token: string) => string
  revokes: boolean
  onLogin?: (body: Record<string, string>) => [number, unknown] | null
}) {
  const live = new Set<string>()
  return async () => {
    const server = await startServer((request, body, response) => {
      const path = request.url ?? '/'
      if (request.method === 'POST' && path === '/login') {
        let parsed: Record<string, string>
        try {
          parsed = JSON.parse(body)
        } catch {
          return json(response, 400, { detail: 'bad body' }, GOOD_HEADERS)
        }
        const refused = options.onLogin?.(parsed)
        if (refused) return json(response, refused[0], refused[1], GOOD_HEADERS)
        const token = randomBytes(16).toString('hex')
        live.add(token)
        return json(response, 200, { ok: true }, { ...GOOD_HEADERS, 'set-cookie': options.setCookie(token) })
      }
      const token = cookieOf(request, 'sid') ?? cookieOf(request, '__Host-sid')
      const signedIn = token !== undefined && live.has(token)
      if (request.method === 'POST' && path === '/logout') {
        if (!signedIn) return json(response, 401, { detail: 'no' }, GOOD_HEADERS)
        if (options.revokes) live.delete(token)
        response.writeHead(204, GOOD_HEADERS)
        return response.end()
      }
      if (path === '/me')
        return signedIn
          ? json(response, 200, { email: AUDIT_EMAIL }, GOOD_HEADERS)
          : json(response, 401, { detail: 'no' }, GOOD_HEADERS)
      if (path === '/csrf') return json(response, 200, { ok: true }, GOOD_HEADERS)
      return json(response, 404, { detail: 'not found' }, GOOD_HEADERS)
    })
    servers.push(server)
    return server
  }
}

describe('gatehouse audit against weak servers', SUITE, () => {
  test('a server that reflects any Origin with credentials: the three CORS checks FAIL (V3.4.2)', async () => {
    const server = await startServer((request, _body, response) => {
      const origin = request.headers.origin
      const cors: Record<string, string> = origin
        ? {
            'access-control-allow-origin': origin,
            'access-control-allow-credentials': 'true',
            'access-control-allow-methods': 'GET, POST',
          }
        : {}
      if (request.method === 'OPTIONS') {
        response.writeHead(204, { ...GOOD_HEADERS, ...cors })
        return response.end()
      }
      json(response, request.url === '/csrf' ? 200 : 404, { ok: true }, { ...GOOD_HEADERS, ...cors })
    })
    servers.push(server)
    const report = await audit(server)
    assertFinding(report.findings, 'cors.origin-reflection', 'FAIL', 'V3.4.2')
    assertFinding(report.findings, 'cors.null-origin', 'FAIL', 'V3.4.2')
    assertFinding(report.findings, 'cors.preflight', 'FAIL', 'V3.4.2')
    assertFinding(report.findings, 'headers.nosniff.json', 'PASS', 'V3.4.4')
  })

  test('reflection without credentials is a WARN, not a FAIL', async () => {
    const server = await startServer((request, _body, response) => {
      const origin = request.headers.origin
      json(
        response,
        200,
        { ok: true },
        { ...GOOD_HEADERS, ...(origin ? { 'access-control-allow-origin': origin } : {}) },
      )
    })
    servers.push(server)
    const report = await audit(server)
    assertFinding(report.findings, 'cors.origin-reflection', 'WARN', 'V3.4.2')
  })

  test('a session cookie without HttpOnly and Secure, a logout that revokes nothing, no CSRF: FAIL each', async () => {
    const server = await sessionApi({ setCookie: (token) => `sid=${token}; Path=/`, revokes: false })()
    const report = await audit(server, { login })
    assertFinding(report.findings, 'cookies.secure', 'FAIL', 'V3.3.1')
    assertFinding(report.findings, 'cookies.httponly', 'FAIL', 'V3.3.4')
    assertFinding(report.findings, 'cookies.samesite', 'WARN', 'V3.3.2')
    assertFinding(report.findings, 'csrf.no-token', 'FAIL', 'V3.5.1')
    assertFinding(report.findings, 'csrf.foreign-origin', 'FAIL', 'V3.5.1')
    assertFinding(report.findings, 'csrf.cross-site-fetch', 'FAIL', 'V3.5.3')
    assertFinding(report.findings, 'logout.cookie', 'FAIL', 'V7.4.1')
    const secure = report.findings.find((finding) => finding.id === 'cookies.secure')!
    assert.match(secure.evidence.observed, /set-cookie: sid=<redacted>; Path=\//)
    assert.doesNotMatch(JSON.stringify(report), /sid=[0-9a-f]{32}/, 'a cookie value in the report')
  })

  test('the same API with __Host- HttpOnly Secure SameSite cookies and a real logout PASSes those checks', async () => {
    const server = await sessionApi({
      setCookie: (token) => `__Host-sid=${token}; Path=/; HttpOnly; Secure; SameSite=Lax`,
      revokes: true,
    })()
    const report = await audit(server, { login })
    for (const [id, asvs] of [
      ['cookies.secure', 'V3.3.1'],
      ['cookies.host-prefix', 'V3.3.3'],
      ['cookies.httponly', 'V3.3.4'],
      ['cookies.samesite', 'V3.3.2'],
      ['logout.cookie', 'V7.4.1'],
      ['cache.no-store', 'V14.3.2'],
    ]) {
      assertFinding(report.findings, id!, 'PASS', asvs!)
    }
    // No /token route here: the bearer check cannot apply, and says so.
    assertFinding(report.findings, 'logout.bearer', 'SKIP', 'V7.4.1')
  })

  test('a server that sends no security headers and an X-Powered-By banner: FAIL on nosniff, framing, banner', async () => {
    const server = await startServer((request, _body, response) => {
      response.setHeader('x-powered-by', 'Express')
      json(response, request.url === '/' ? 200 : 404, { hello: 'world' })
    })
    servers.push(server)
    const report = await audit(server)
    assertFinding(report.findings, 'headers.nosniff.json', 'FAIL', 'V3.4.4')
    assertFinding(report.findings, 'headers.nosniff.error', 'FAIL', 'V3.4.4')
    assertFinding(report.findings, 'headers.frame-ancestors.json', 'FAIL', 'V3.4.6')
    assertFinding(report.findings, 'headers.csp.json', 'WARN', 'V3.4.3')
    assertFinding(report.findings, 'headers.referrer-policy.json', 'WARN', 'V3.4.5')
    assertFinding(report.findings, 'headers.server-banner', 'FAIL', 'V13.4.6')
    assertFinding(report.findings, 'host.allowlist', 'WARN', 'V2.2.1')
  })

  test("an HTML page with 'unsafe-inline' scripts and no object-src: the CSP check FAILs (V3.4.3)", async () => {
    const server = await startServer((request, _body, response) => {
      if (request.url === '/') {
        response.writeHead(200, {
          ...GOOD_HEADERS,
          'content-type': 'text/html',
          'content-security-policy': "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        })
        return response.end('<!doctype html><title>x</title>')
      }
      json(response, 404, { detail: 'not found' }, GOOD_HEADERS)
    })
    servers.push(server)
    const report = await audit(server)
    assertFinding(report.findings, 'headers.csp.html', 'FAIL', 'V3.4.3')
    const csp = report.findings.find((finding) => finding.id === 'headers.csp.html')!
    assert.match(csp.detail, /'unsafe-inline' in script-src/)
    assert.match(csp.detail, /no object-src/)
  })

  test('a server that leaks a stack trace for a malformed JSON body: errors.stack-trace FAILs (V16.5.1)', async () => {
    const server = await startServer((request, body, response) => {
      if (request.method === 'POST') {
        try {
          JSON.parse(body)
        } catch (error) {
          response.writeHead(500, { ...GOOD_HEADERS, 'content-type': 'text/plain' })
          return response.end(`${(error as Error).stack}\n    at handler (/srv/app/server.js:12:7)`)
        }
      }
      json(response, 404, { detail: 'not found' }, GOOD_HEADERS)
    })
    servers.push(server)
    const report = await audit(server)
    assertFinding(report.findings, 'errors.stack-trace', 'FAIL', 'V16.5.1')
    assertFinding(report.findings, 'errors.generic', 'WARN', 'V16.5.1')
    const leak = report.findings.find((finding) => finding.id === 'errors.stack-trace')!
    assert.match(leak.evidence.observed, /^500 text\/plain: .*stack frame/)
    assert.ok(!leak.evidence.observed.includes('/srv/app'), 'the leaked body is echoed into the report')
  })

  test('a foreign Host echoed into Location: host.reflection FAILs; X-Forwarded-Host believed: host.forwarded FAILs', async () => {
    const server = await startServer((request, _body, response) => {
      const host = request.headers['x-forwarded-host'] ?? request.headers.host
      response.writeHead(302, { ...GOOD_HEADERS, location: `http://${host}/login` })
      response.end()
    })
    servers.push(server)
    const report = await audit(server)
    assertFinding(report.findings, 'host.reflection', 'FAIL', 'V2.2.1')
    assertFinding(report.findings, 'host.forwarded', 'FAIL', 'V4.1.3')
  })

  test('login answering 404 for unknown users and 401 for a wrong password, slower for real ones, never throttled: FAIL', async () => {
    const server = await sessionApi({
      setCookie: (token) => `__Host-sid=${token}; Path=/; HttpOnly; Secure; SameSite=Lax`,
      revokes: true,
      onLogin: (body) => {
        if (body.email !== AUDIT_EMAIL) return [404, { detail: 'no such user' }]
        // A real hash comparison only for existing users: the timing oracle.
        const until = Date.now() + 40
        while (Date.now() < until);
        return body.password === AUDIT_PASSWORD ? null : [401, { detail: 'wrong password' }]
      },
    })()
    const report = await audit(server, { login, active: true })
    assertFinding(report.findings, 'enumeration.response', 'FAIL', 'V6.3.8')
    assertFinding(report.findings, 'enumeration.timing', 'FAIL', 'V6.3.8')
    assertFinding(report.findings, 'throttling.login', 'FAIL', 'V6.3.1')
    const response = report.findings.find((finding) => finding.id === 'enumeration.response')!
    assert.match(response.evidence.observed, /unknown email: 404, wrong password: 401/)
    const timing = report.findings.find((finding) => finding.id === 'enumeration.timing')!
    assert.match(
      timing.evidence.observed,
      /median unknown email [\d.]+ ms, wrong password [\d.]+ ms, difference [\d.]+ ms/,
    )
  })

  test('--active against a server without a login route: throttling is SKIP with the reason, not a false FAIL', async () => {
    const server = await startServer((request, _body, response) =>
      json(response, request.method === 'POST' ? 501 : 200, { detail: 'no' }, GOOD_HEADERS),
    )
    servers.push(server)
    const report = await audit(server, { active: true })
    assertFinding(report.findings, 'throttling.login', 'SKIP', 'V6.3.1')
    assert.match(report.findings.find((finding) => finding.id === 'throttling.login')!.detail, /answered 501/)
    assertFinding(report.findings, 'enumeration.response', 'SKIP', 'V6.3.8')
  })
})
