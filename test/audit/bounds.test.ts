/**
 * The audit is bounded: a silent server cannot hold it past its deadline, the request budget is
 * what the server sees at most, and usage or connection errors exit 2.
 */
import assert from 'node:assert/strict'
import { createServer, type Server, type Socket } from 'node:net'
import { after, describe, test } from 'node:test'
import { auditOptions, runAudit, TargetUnreachableError } from '../../src/audit/index.ts'
import {
  AUDIT_EMAIL,
  AUDIT_PASSWORD,
  GOOD_HEADERS,
  gatehouseCli,
  json,
  type Running,
  startServer,
} from './servers.ts'

const SUITE = { timeout: 120_000 }
const servers: Running[] = []
const sockets: { server: Server; held: Socket[] }[] = []

function closeSilent(entry: { server: Server; held: Socket[] }): Promise<void> {
  // close() waits for open connections: end the held ones first.
  for (const socket of entry.held) socket.destroy()
  return new Promise((resolve) => entry.server.close(() => resolve()))
}

after(async () => {
  for (const server of servers) await server.close()
  for (const entry of sockets) await closeSilent(entry)
})

/** Accepts connections and never writes a byte. */
async function silentServer(): Promise<string> {
  const held: Socket[] = []
  const server = createServer((socket) => {
    held.push(socket)
    socket.on('error', () => {})
  })
  sockets.push({ server, held })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  assert.ok(address && typeof address === 'object')
  return `http://127.0.0.1:${address.port}`
}

/** Answers the first `answered` requests, then holds every later one open. */
async function stallingServer(answered: number): Promise<Running> {
  let seen = 0
  const server = await startServer((_request, _body, response) => {
    seen++
    if (seen <= answered) json(response, 200, { ok: true }, GOOD_HEADERS)
  })
  servers.push(server)
  return server
}

describe('gatehouse audit bounds', SUITE, () => {
  test('a server that never answers: the CLI exits 2 by its --deadline, though --timeout is longer', async () => {
    const url = await silentServer()
    const result = await gatehouseCli(['audit', url, '--deadline', '2', '--timeout', '30'], {}, 20_000)
    assert.equal(result.code, 2, result.stdout + result.stderr)
    assert.match(result.stderr, /no answer from http:\/\/127\.0\.0\.1:\d+ before the deadline/)
    // Two seconds of deadline plus the CLI's own start-up (tsx), far below the 30 s timeout.
    assert.ok(result.elapsedMs < 8000, `took ${result.elapsedMs} ms`)
  })

  test('a server that stops answering mid-way: the report comes back at the deadline, marked incomplete, the rest SKIP', async () => {
    const server = await stallingServer(3)
    const started = Date.now()
    const report = await runAudit(auditOptions(new URL(server.url), { deadlineMs: 1500, timeoutMs: 30_000 }))
    const elapsed = Date.now() - started
    assert.ok(elapsed < 2500, `took ${elapsed} ms`)
    assert.equal(report.incomplete, 'deadline')
    assert.equal(report.summary.fail, 0)
    const last = report.findings.at(-1)!
    assert.equal(last.status, 'SKIP')
    assert.match(last.detail, /deadline/)
  })

  test('--timeout bounds one request: a silent server is unreachable after it, in-process', async () => {
    const url = await silentServer()
    const started = Date.now()
    await assert.rejects(
      runAudit(auditOptions(new URL(url), { timeoutMs: 500, deadlineMs: 60_000 })),
      TargetUnreachableError,
    )
    assert.ok(Date.now() - started < 1500)
  })

  test('the request budget: the server receives at most --budget requests, and the report says which checks did not run', async () => {
    const server = await startServer((request, _body, response) => {
      if (request.method === 'POST' && request.url === '/login') {
        return json(
          response,
          200,
          { ok: true },
          { ...GOOD_HEADERS, 'set-cookie': '__Host-sid=x; Path=/; Secure; HttpOnly; SameSite=Lax' },
        )
      }
      json(response, 200, { ok: true }, GOOD_HEADERS)
    })
    servers.push(server)
    for (const budget of [1, 7, 30]) {
      const before = server.count()
      const report = await runAudit(
        auditOptions(new URL(server.url), {
          budget,
          active: true,
          login: { email: AUDIT_EMAIL, password: AUDIT_PASSWORD },
        }),
      )
      assert.equal(server.count() - before, budget, `budget ${budget}`)
      assert.equal(report.requestsUsed, budget)
      assert.equal(report.incomplete, 'budget')
      assert.ok(report.findings.some((finding) => /request budget was spent/.test(finding.detail)))
    }
  })

  test('the CLI: --budget is respected as seen by the server, and a spent budget is not an error (exit 0 without FAIL)', async () => {
    const server = await startServer((_request, _body, response) =>
      json(response, 200, { ok: true }, GOOD_HEADERS),
    )
    servers.push(server)
    const before = server.count()
    const result = await gatehouseCli(['audit', server.url, '--budget', '5', '--json'])
    assert.equal(server.count() - before, 5)
    const report = JSON.parse(result.stdout)
    assert.equal(report.requestsUsed, 5)
    assert.equal(report.incomplete, 'budget')
    assert.equal(result.code, report.summary.fail > 0 ? 1 : 0)
  })

  test('exit codes: 1 on a FAIL, 2 on a refused port, a bad URL, a bad flag value or a refused --login', async () => {
    const weak = await startServer((_request, _body, response) => json(response, 200, { ok: true }))
    servers.push(weak)
    const failing = await gatehouseCli(['audit', weak.url])
    assert.equal(failing.code, 1, failing.stdout)
    assert.match(failing.stdout, /^FAIL\s+headers\.nosniff\.json/m)

    const closed = await silentServer()
    const port = new URL(closed).port
    await closeSilent(sockets.pop()!)
    const refused = await gatehouseCli(['audit', `http://127.0.0.1:${port}`])
    assert.equal(refused.code, 2)
    assert.match(refused.stderr, /ECONNREFUSED/)

    const badUrl = await gatehouseCli(['audit', 'ftp://user:secret@example.com'])
    assert.equal(badUrl.code, 2)
    assert.doesNotMatch(badUrl.stderr, /secret/)

    const badFlag = await gatehouseCli(['audit', weak.url, '--budget', 'lots'])
    assert.equal(badFlag.code, 2)
    assert.match(badFlag.stderr, /--budget/)

    const refusing = await startServer((request, _body, response) =>
      json(response, request.method === 'POST' ? 401 : 200, { detail: 'no' }, GOOD_HEADERS),
    )
    servers.push(refusing)
    const wrongLogin = await gatehouseCli(['audit', refusing.url, '--login', 'a@example.com:wrong-password'])
    assert.equal(wrongLogin.code, 2)
    assert.match(wrongLogin.stderr, /--login: POST \/login answered 401/)
    assert.doesNotMatch(wrongLogin.stderr + wrongLogin.stdout, /wrong-password/)
  })

  test('--help says that --active sends failed logins', async () => {
    const result = await gatehouseCli(['audit', '--help'])
    assert.equal(result.code, 0)
    assert.match(result.stdout, /--active\s+also send failed logins/)
    assert.match(result.stdout, /Exit codes: 0 no FAIL, 1 at least one FAIL, 2/)
  })
})
