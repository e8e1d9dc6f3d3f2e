/**
 * Over https the HSTS check is judged (over http it is SKIP), and certificates are verified: a
 * self-signed one is refused unless the CA is trusted (NODE_EXTRA_CA_CERTS).
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { AuditReport } from '../../src/audit/index.ts'
import { assertFinding, GOOD_HEADERS, gatehouseCli } from './servers.ts'

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-tls-'))
const cert = join(dir, 'cert.pem')
const key = join(dir, 'key.pem')
const made = spawnSync(
  'openssl',
  [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '2',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ],
  { stdio: 'ignore' },
)
const skip = made.status === 0 ? false : 'openssl is not installed: no certificate for the https server'

describe('gatehouse audit over https', { skip, timeout: 120_000 }, () => {
  let hsts = ''
  let server: Server
  let url: string
  before(async () => {
    server = createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (request, response) => {
      response.writeHead(request.url === '/' ? 200 : 404, {
        ...GOOD_HEADERS,
        'content-type': 'application/json',
        ...(hsts ? { 'strict-transport-security': hsts } : {}),
      })
      response.end('{}')
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    rmSync(dir, { recursive: true, force: true })
  })

  async function audit(): Promise<AuditReport> {
    const result = await gatehouseCli(['audit', url, '--json'], { NODE_EXTRA_CA_CERTS: cert })
    assert.ok(result.code === 0 || result.code === 1, result.stderr)
    return JSON.parse(result.stdout) as AuditReport
  }

  test('a year of HSTS with includeSubDomains PASSes', async () => {
    hsts = 'max-age=31536000; includeSubDomains'
    assertFinding((await audit()).findings, 'headers.hsts', 'PASS', 'V3.4.1')
  })

  test('a short max-age or no HSTS at all FAILs; no includeSubDomains is a WARN', async () => {
    hsts = 'max-age=300; includeSubDomains'
    assertFinding((await audit()).findings, 'headers.hsts', 'FAIL', 'V3.4.1')
    hsts = ''
    assertFinding((await audit()).findings, 'headers.hsts', 'FAIL', 'V3.4.1')
    hsts = 'max-age=63072000'
    assertFinding((await audit()).findings, 'headers.hsts', 'WARN', 'V3.4.1')
  })

  test('an untrusted certificate is a connection error (exit 2), not a report', async () => {
    const result = await gatehouseCli(['audit', url])
    assert.equal(result.code, 2)
    assert.match(result.stderr, /SELF_SIGNED|certificate/i)
    assert.equal(result.stdout, '')
  })
})
