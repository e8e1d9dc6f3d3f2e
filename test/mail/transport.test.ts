import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { MailSendError } from '../../src/mail/mail-error.ts'
import { parseSmtpUrl } from '../../src/mail/smtp-url.ts'
import { createMailTransport } from '../../src/mail/transport.ts'
import { decodeHeaderValue, parseRawMail } from './raw-mail.ts'
import { type SmtpSink, startSmtpSink } from './smtp-sink.ts'

const FROM = 'Gatehouse <no-reply@example.com>'
const LINK = 'https://app.example.com/reset-password#token=gth_secret-token-value_1234567890abcdefghijklmnop'
const MAIL = {
  to: 'ann@example.com',
  subject: 'Reset your Gatehouse password',
  text: `Open this link:\n\n${LINK}\n`,
  html: `<p><a href="${LINK}">Choose a new password</a></p>`,
}

async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

describe('SMTP URL', () => {
  it('reads host, port, TLS mode and credentials; the display form has no credentials', () => {
    const server = parseSmtpUrl('smtp://mailer:p%40ss%3Aword@mail.example.com:2525')
    assert.deepEqual(server, {
      host: 'mail.example.com',
      port: 2525,
      secure: false,
      auth: { user: 'mailer', pass: 'p@ss:word' },
      display: 'smtp://mail.example.com:2525',
    })
    assert.equal(parseSmtpUrl('smtps://u:p@mail.example.com').port, 465)
    assert.equal(parseSmtpUrl('smtps://u:p@mail.example.com').secure, true)
    assert.equal(parseSmtpUrl('smtp://mail.example.com').port, 587)
    assert.equal(parseSmtpUrl('smtp://mail.example.com').auth, null)
    assert.equal(parseSmtpUrl('smtp://[::1]:25').host, '::1')
  })

  it('refuses what it cannot use without echoing the password', () => {
    for (const url of [
      'http://u:hunter2-secret@mail.example.com',
      'smtp://u:hunter2-secret@mail.example.com:25/path',
      'smtp://u:hunter2-secret@mail.example.com:25?tls.rejectUnauthorized=false',
      'smtp://:hunter2-secret@mail.example.com',
      'smtp://u:hunter2-secret%E0%A4%A@mail.example.com',
      'not a url hunter2-secret',
    ]) {
      assert.throws(
        () => parseSmtpUrl(url),
        (error: Error) => !error.message.includes('hunter2') && /SMTP_URL/.test(error.message),
        url,
      )
    }
  })

  it('describe() names the server, never the password', () => {
    const transport = createMailTransport({
      smtpUrl: 'smtp://mailer:hunter2-secret@127.0.0.1:2525',
      from: FROM,
    })
    try {
      assert.equal(transport.describe(), 'smtp://127.0.0.1:2525')
    } finally {
      transport.close()
    }
  })
})

describe('SMTP transport', () => {
  let open: SmtpSink
  let withAuth: SmtpSink
  const credentials = { user: 'mailer', pass: 'hunter2-secret' }

  before(async () => {
    open = await startSmtpSink()
    withAuth = await startSmtpSink({ credentials })
  })
  after(async () => {
    await open?.close()
    await withAuth?.close()
  })

  it('delivers to a server without authentication', async () => {
    const transport = createMailTransport({ smtpUrl: open.url(), from: FROM })
    try {
      await transport.send(MAIL)
    } finally {
      transport.close()
    }
    const received = open.received.at(-1)
    assert.ok(received)
    assert.deepEqual(received.to, ['ann@example.com'])
    assert.equal(received.from, 'no-reply@example.com')
    const parsed = parseRawMail(received.raw)
    assert.equal(decodeHeaderValue(parsed.headers.get('subject') ?? ''), MAIL.subject)
    assert.ok(parsed.text.includes(LINK), parsed.text)
    assert.ok(parsed.html.includes(LINK), parsed.html)
  })

  it('logs in with the URL credentials', async () => {
    const transport = createMailTransport({ smtpUrl: withAuth.url(credentials), from: FROM })
    try {
      await transport.send(MAIL)
    } finally {
      transport.close()
    }
    const received = withAuth.received.at(-1)
    assert.equal(received?.user, 'mailer')
    assert.ok(parseRawMail(received?.raw ?? '').text.includes(LINK))
  })

  it('a refused login rejects with an error that holds no password', async () => {
    const wrong = { user: 'mailer', pass: 'wrong-pass-0123' }
    const before = withAuth.received.length
    const transport = createMailTransport({ smtpUrl: withAuth.url(wrong), from: FROM })
    try {
      await assert.rejects(transport.send(MAIL), (error: unknown) => {
        assert.ok(error instanceof MailSendError)
        assert.equal(error.code, 'EAUTH')
        assert.equal(error.permanent, false)
        assert.ok(!error.message.includes('wrong-pass-0123'))
        assert.ok(!error.message.includes(Buffer.from('wrong-pass-0123').toString('base64')))
        assert.ok(!(error.stack ?? '').includes('wrong-pass-0123'))
        return true
      })
    } finally {
      transport.close()
    }
    assert.equal(withAuth.received.length, before)
  })

  it('a closed port rejects quickly with a connection error', async () => {
    const port = await closedPort()
    const transport = createMailTransport({ smtpUrl: `smtp://127.0.0.1:${port}`, from: FROM })
    try {
      await assert.rejects(transport.send(MAIL), (error: unknown) => {
        assert.ok(error instanceof MailSendError)
        assert.match(error.message, /ECONNREFUSED/)
        return true
      })
    } finally {
      transport.close()
    }
  })

  it('a server that never greets is given up after the greeting timeout', async () => {
    const sockets = new Set<import('node:net').Socket>()
    const silent = createServer((socket) => sockets.add(socket))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const { port } = silent.address() as { port: number }
    const transport = createMailTransport({
      smtpUrl: `smtp://127.0.0.1:${port}`,
      from: FROM,
      timeouts: { greetingTimeoutMs: 200 },
    })
    const started = Date.now()
    try {
      await assert.rejects(transport.send(MAIL), (error: unknown) => {
        assert.ok(error instanceof MailSendError)
        assert.equal(error.code, 'ETIMEDOUT')
        return true
      })
      assert.ok(Date.now() - started < 5_000)
    } finally {
      transport.close()
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => silent.close(() => resolve()))
    }
  })

  it('refuses a recipient that is not exactly one address, for good', async () => {
    const before = open.received.length
    const transport = createMailTransport({ smtpUrl: open.url(), from: FROM })
    try {
      for (const to of [
        'ann@example.com, eve@example.net',
        'Eve <eve@example.net>',
        'ann@example.com\r\nBcc: x@y.z',
      ]) {
        await assert.rejects(transport.send({ ...MAIL, to }), (error: unknown) => {
          assert.ok(error instanceof MailSendError)
          assert.equal(error.permanent, true)
          return true
        })
      }
    } finally {
      transport.close()
    }
    assert.equal(open.received.length, before)
  })
})

describe('development transport (.eml files)', () => {
  let dir: string
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-mail-'))
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('writes an owner-only RFC 5322 file with the link and logs only its name', async () => {
    const outboxDir = join(dir, 'outbox')
    const lines: { obj: object; msg: string }[] = []
    const transport = createMailTransport({
      smtpUrl: null,
      from: FROM,
      outboxDir,
      log: { info: (obj, msg) => lines.push({ obj, msg }) },
    })
    try {
      assert.equal(transport.describe(), `files in ${outboxDir}`)
      assert.equal(statSync(outboxDir).mode & 0o777, 0o700)
      await transport.send(MAIL)
      await transport.send({ ...MAIL, to: 'bob@example.com' })
    } finally {
      transport.close()
    }
    const files = readdirSync(outboxDir).sort()
    assert.equal(files.length, 2)
    for (const name of files) {
      assert.match(name, /^\d{4}-\d\d-\d\dT[\d-]+Z-[0-9a-f]{12}\.eml$/)
      assert.equal(statSync(join(outboxDir, name)).mode & 0o777, 0o600)
    }
    const raw = readFileSync(join(outboxDir, files[0] ?? ''), 'utf8')
    assert.match(raw, /\r\n\r\n/, 'CRLF line endings')
    const parsed = parseRawMail(raw)
    assert.match(parsed.headers.get('to') ?? '', /(ann|bob)@example\.com/)
    assert.ok(parsed.headers.get('from')?.includes('no-reply@example.com'))
    assert.equal(parsed.headers.get('subject'), MAIL.subject)
    assert.ok(parsed.text.includes(LINK), parsed.text)
    assert.ok(parsed.html.includes(LINK))

    assert.equal(lines.length, 2)
    for (const line of lines) {
      assert.equal(line.msg, 'mail written')
      const file = (line.obj as { file?: string }).file ?? ''
      assert.ok(files.some((name) => file === join(outboxDir, name)))
      const logged = JSON.stringify(line)
      assert.ok(!logged.includes('gth_secret-token-value'), logged)
      assert.ok(!logged.includes('example.com/reset'), logged)
    }
  })

  it('refuses a recipient list there too', async () => {
    const transport = createMailTransport({ smtpUrl: null, from: FROM, outboxDir: join(dir, 'other') })
    try {
      await assert.rejects(transport.send({ ...MAIL, to: 'a@example.com,b@example.com' }), MailSendError)
    } finally {
      transport.close()
    }
    assert.deepEqual(readdirSync(join(dir, 'other')), [])
  })
})
