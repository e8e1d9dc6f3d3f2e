import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { Writable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { loggerOptions } from '../../src/server/logger.ts'
import { createSqliteDatabase, dialects, type TestDatabase } from '../helpers/databases.ts'
import {
  bearer,
  login,
  register,
  requestToken,
  startTestApp,
  TEST_SECRET,
  type TestApp,
} from '../helpers/test-app.ts'
import { portOf, rawRequest } from './raw-http.ts'

const EMAIL = 'logs@example.com'
const PASSWORD = 'Logged-Passw0rd-Secret!'
const WRONG_PASSWORD = 'Logged-Wrong-Passw0rd?'
/** The server's own logger options (level + redaction), as an object to extend. */
const serverLogger = (level: string) => loggerOptions(level) as Record<string, unknown>
const FIXTURE = fileURLToPath(new URL('./fixtures/default-logger-app.ts', import.meta.url))

/** A pino destination that keeps every line. */
function capture(): { stream: Writable; lines: string[] } {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean))
      done()
    },
  })
  return { stream, lines }
}

/** Logs in, fails a login, calls /me with header + cookie + CSRF header, logs out. */
async function exercise(t: TestApp): Promise<string[]> {
  assert.equal((await register(t.app, EMAIL, PASSWORD)).statusCode, 201)
  const token = await login(t.app, EMAIL, PASSWORD)
  assert.equal((await requestToken(t.app, EMAIL, WRONG_PASSWORD)).statusCode, 401)
  const me = await t.app.inject({
    url: '/me',
    headers: { ...bearer(token), cookie: `token=${token}; csrftoken=${token}`, 'x-csrftoken': token },
  })
  assert.equal(me.statusCode, 200)
  assert.equal((await register(t.app, 'not-an-email', 'short')).statusCode, 422)
  assert.equal(
    (await t.app.inject({ method: 'POST', url: '/logout', headers: bearer(token) })).statusCode,
    204,
  )
  return [PASSWORD, WRONG_PASSWORD, token, token.slice('gth_'.length)]
}

function assertNoSecrets(lines: string[], secrets: string[]): void {
  for (const line of lines) {
    for (const secret of secrets)
      assert.ok(!line.includes(secret), `secret ${secret.slice(0, 6)}… in log: ${line}`)
  }
}

for (const { dialect, skip, create } of dialects()) {
  describe(`logs never carry credentials (${dialect})`, { skip }, () => {
    describe('with the server logger options and Fastify’s request serializers', () => {
      const { stream, lines } = capture()
      let t: TestApp
      before(async () => {
        t = await startTestApp({ create, logger: { ...serverLogger('trace'), stream } as never })
      })
      after(() => t?.close())

      it('logs requests but no password or token', async () => {
        const secrets = await exercise(t)
        assert.ok(lines.length >= 10, `only ${lines.length} log lines`)
        assert.ok(
          lines.some((line) => line.includes('"url":"/me"')),
          'requests are not logged',
        )
        assertNoSecrets(lines, secrets)
      })

      it('logs no query-string credential (?access_token=, ?x-csrftoken=), refused or not', async () => {
        const token = await login(t.app, EMAIL, PASSWORD)
        const csrf = 'csrf-in-query-0123456789abcdef'
        const queried = await t.app.inject({ url: `/me?access_token=${token}` })
        assert.equal(queried.statusCode, 401, 'a token in the query string is refused')
        const other = await t.app.inject({ url: `/me?page=2&x-csrftoken=${csrf}`, headers: bearer(token) })
        assert.equal(other.statusCode, 200)
        const bad = await t.app.inject({ url: `/%c0?access_token=${token}` })
        assert.equal(bad.statusCode, 400)
        assertNoSecrets(lines, [token, token.slice('gth_'.length), csrf])
        const urls = lines.map((line) => JSON.parse(line).req?.url).filter(Boolean)
        assert.ok(urls.includes('/me?[redacted]'), `the path is still logged: ${urls.join(' ')}`)
      })

      it('logs no token written into the path itself (/me;access_token=gth_…)', async () => {
        const token = await login(t.app, EMAIL, PASSWORD)
        const response = await t.app.inject({ url: `/me;access_token=${token}` })
        assert.equal(response.statusCode, 404)
        assertNoSecrets(lines, [token, token.slice('gth_'.length)])
        const urls = lines.map((line) => JSON.parse(line).req?.url).filter(Boolean)
        assert.ok(urls.includes('/me;access_token=gth_[redacted]'), urls.join(' '))
      })

      it('logs no API key written into the path, percent-encoded or not (/%67hk_…)', async () => {
        const key = `ghk_${'K'.repeat(43)}`
        const encoded = `%67hk_${'K'.repeat(43)}`
        await t.app.inject({ url: `/files/${key}` })
        await t.app.inject({ url: `/files/${encoded}/x` })
        await t.app.inject({ url: `/files/${encoded}%ZZ` })
        assertNoSecrets(lines, [key, 'K'.repeat(43)])
        const urls = lines.map((line) => JSON.parse(line).req?.url).filter(Boolean)
        assert.ok(urls.includes('/files/ghk_[redacted]'), urls.join(' '))
        assert.ok(urls.includes('/files/[redacted]/x'), urls.join(' '))
        assert.ok(urls.includes('/files/[redacted]'), `a malformed escape beside it: ${urls.join(' ')}`)
      })

      it('logs a request Node’s parser refuses by its code, not its raw bytes', async () => {
        await t.app.listen({ port: 0, host: '127.0.0.1' })
        const secret = 'gth_raw-packet-secret-0123456789'
        const response = await rawRequest(
          portOf(t.app),
          `patch /me HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${secret}\r\n\r\n`,
        )
        assert.equal(response.status, 400)
        const logged = lines.map((line) => JSON.parse(line)).find((entry) => entry.msg === 'client error')
        assert.ok(logged, 'the refused request is not logged')
        assert.equal(logged.code, 'HPE_INVALID_METHOD')
        assert.ok(!lines.some((line) => line.includes('rawPacket')), 'raw request bytes in the log')
        assertNoSecrets(lines, [secret, Buffer.from(secret).toString('base64')])
      })
    })

    describe('when request headers are logged too', () => {
      const { stream, lines } = capture()
      let t: TestApp
      before(async () => {
        const headerSerializer = {
          req: (request: { method: string; url: string; headers: Record<string, unknown> }) => ({
            method: request.method,
            url: request.url,
            headers: request.headers,
          }),
        }
        t = await startTestApp({
          create,
          logger: { ...serverLogger('info'), serializers: headerSerializer, stream } as never,
        })
      })
      after(() => t?.close())

      it('redacts Authorization, Cookie and X-CSRFToken', async () => {
        const secrets = await exercise(t)
        const me = lines.map((line) => JSON.parse(line)).find((entry) => entry.req?.url === '/me')
        assert.ok(me, 'no log line for /me')
        assert.equal(me.req.headers.authorization, '[redacted]')
        assert.equal(me.req.headers.cookie, '[redacted]')
        assert.equal(me.req.headers['x-csrftoken'], '[redacted]')
        assert.equal(me.req.headers['user-agent'], 'lightMyRequest', 'other headers are kept')
        assertNoSecrets(lines, secrets)
      })
    })
  })
}

// The logger does not depend on the database: one run, on SQLite, is enough for the child process.
describe('logs of the default buildApp logger (LOG_LEVEL=debug, stdout, sqlite)', () => {
  let database: TestDatabase
  before(async () => {
    database = await createSqliteDatabase()
  })
  after(() => database?.drop())

  it('writes JSON logs to stdout with no password or token', () => {
    const child = spawnSync(process.execPath, ['--import', 'tsx', FIXTURE], {
      env: {
        ...process.env,
        DATABASE_URL: database.url,
        GATEHOUSE_SECRET: TEST_SECRET,
        PRUNE_INTERVAL_SECONDS: '0',
        LOG_LEVEL: 'debug',
      },
      encoding: 'utf8',
      timeout: 60_000,
    })
    assert.equal(child.status, 0, child.stderr)
    const report = JSON.parse(child.stderr.trim().split('\n').at(-1) as string)
    assert.equal(report.status, 200, 'the child could not log in')
    const lines = child.stdout.split('\n').filter(Boolean)
    assert.ok(lines.length >= 10, `only ${lines.length} log lines`)
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), line)
    assert.ok(
      lines.some((line) => line.includes('"url":"/me"')),
      'requests are not logged',
    )
    const secrets: string[] = report.secrets
    assert.equal(secrets.length, 3)
    assertNoSecrets(lines, [...secrets, (secrets[2] as string).slice('gth_'.length)])
  })
})
