import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import { sql } from 'kysely'
import { enqueueMail, type PreparedMail } from '../../src/accounts/outbox.ts'
import type { OutboxRow } from '../../src/mail/outbox-queue.ts'
import {
  createOutboxWorker,
  type OutboxErrorContext,
  type OutboxWorkerOptions,
} from '../../src/mail/outbox-worker.ts'
import { createMailTransport, type MailTransport } from '../../src/mail/transport.ts'
import { openStore, type Store } from '../../src/store/open-store.ts'
import { dialects, openTestStore } from '../helpers/databases.ts'
import { decodeHeaderValue, parseRawMail } from './raw-mail.ts'
import { type SmtpSink, startSmtpSink } from './smtp-sink.ts'

const APP_URL = 'https://app.example.com'
const FROM = 'Gatehouse <no-reply@example.com>'
const CREDENTIALS = { user: 'mailer', pass: 'smtp-pass-8d1f' }
const LINK_PATTERN = /https:\/\/app\.example\.com\/(reset-password|verify-email)#token=([A-Za-z0-9_-]+)/

async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

async function waitUntil(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** What the domain does: mint a token for the row, remembered here so the test can find it in the mail. */
function tokenMinter() {
  const tokens = new Map<number, string>()
  const prepare = async (row: OutboxRow): Promise<PreparedMail> => {
    const token = `gth_${row.id}_${randomBytes(16).toString('hex')}`
    tokens.set(row.id, token)
    return { purpose: row.purpose, to: row.recipient, token, expiresInSeconds: 3600 }
  }
  return { tokens, prepare }
}

for (const { dialect, skip, create } of dialects()) {
  describe(`outbox worker on ${dialect}`, { skip }, () => {
    let store: (Store & { url: string }) | undefined
    let sink: SmtpSink
    const cleanups: (() => Promise<void> | void)[] = []
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)

    const db = () => {
      if (!store) throw new Error('no store')
      return store.db
    }
    const queue = async (recipient: string, purpose: PreparedMail['purpose'] = 'password-reset') => {
      await enqueueMail(db(), { purpose, recipient, userId: null })
      const row = await db().selectFrom('outbox').select('id').orderBy('id', 'desc').executeTakeFirstOrThrow()
      return row.id
    }
    const row = (id: number) =>
      db().selectFrom('outbox').selectAll().where('id', '=', id).executeTakeFirstOrThrow()
    const transportTo = (smtpUrl: string): MailTransport => {
      const transport = createMailTransport({ smtpUrl, from: FROM })
      cleanups.push(() => transport.close())
      return transport
    }
    const worker = (options: Partial<OutboxWorkerOptions> & Pick<OutboxWorkerOptions, 'prepare'>) => {
      const created = createOutboxWorker({
        db: db(),
        dialect,
        transport: transportTo(sink.url(CREDENTIALS)),
        appUrl: APP_URL,
        pollIntervalMs: 50,
        backoff: { initialMs: 20, maxMs: 40 },
        onError: () => {},
        ...options,
      })
      cleanups.push(() => created.stop())
      return created
    }

    before(async () => {
      process.on('unhandledRejection', onUnhandled)
      store = await openTestStore(create)
      sink = await startSmtpSink({ credentials: CREDENTIALS })
    })
    after(async () => {
      process.off('unhandledRejection', onUnhandled)
      await sink?.close()
      await store?.close()
    })
    beforeEach(async () => {
      await db().deleteFrom('outbox').execute()
      sink.received.length = 0
    })
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
      assert.deepEqual(unhandled, [], 'no unhandled rejection')
    })

    it('sends a queued reset mail over SMTP with the token the domain minted, then marks it sent', async () => {
      const { tokens, prepare } = tokenMinter()
      const id = await queue('ann@example.com')
      const result = await worker({ prepare }).runOnce()
      assert.deepEqual(result, { sent: 1, dropped: 0, retried: 0, failed: 0 })

      assert.equal(sink.received.length, 1)
      const [mail] = sink.received
      assert.deepEqual(mail?.to, ['ann@example.com'])
      assert.equal(mail?.user, CREDENTIALS.user)
      const parsed = parseRawMail(mail?.raw ?? '')
      assert.equal(decodeHeaderValue(parsed.headers.get('subject') ?? ''), 'Reset your Gatehouse password')
      const link = LINK_PATTERN.exec(parsed.text)
      assert.equal(link?.[1], 'reset-password')
      assert.equal(link?.[2], tokens.get(id))
      assert.ok(parsed.html.includes(`#token=${tokens.get(id)}`))
      assert.match(parsed.text, /This link works for 1 hour/)

      const stored = await row(id)
      assert.equal(stored.status, 'sent')
      assert.equal(stored.attempts, 1)
      assert.equal(stored.locked_until, null)
      assert.ok(stored.finished_at)
      // The secret lives in the mail only.
      assert.ok(!JSON.stringify(stored).includes(tokens.get(id) ?? '?'))
      // Sent once: a second run has nothing to do.
      assert.deepEqual(await worker({ prepare }).runOnce(), { sent: 0, dropped: 0, retried: 0, failed: 0 })
      assert.equal(sink.received.length, 1)
    })

    it('started, it sends what is queued and, woken, what is queued next', async () => {
      const { prepare } = tokenMinter()
      await queue('ann@example.com', 'verify-email')
      const running = worker({ prepare, pollIntervalMs: 60_000 })
      running.start()
      await sink.waitFor(1)
      await queue('bob@example.com', 'verify-email')
      running.wake()
      await sink.waitFor(2)
      await running.stop()
      assert.deepEqual(sink.received.map((m) => m.to[0]).sort(), ['ann@example.com', 'bob@example.com'])
      assert.match(parseRawMail(sink.received[1]?.raw ?? '').text, LINK_PATTERN)
    })

    it('an SMTP server that is down: the row waits with back-off, then goes when the server is up', async () => {
      const { tokens, prepare } = tokenMinter()
      const port = await closedPort()
      const contexts: OutboxErrorContext[] = []
      const id = await queue('ann@example.com')
      const down = worker({
        prepare,
        transport: transportTo(`smtp://127.0.0.1:${port}`),
        backoff: { initialMs: 200, maxMs: 200 },
        onError: (_error, context) => contexts.push(context),
      })
      const before = Date.now()
      assert.deepEqual(await down.runOnce(), { sent: 0, dropped: 0, retried: 1, failed: 0 })
      const waiting = await row(id)
      assert.equal(waiting.status, 'pending')
      assert.equal(waiting.attempts, 1)
      assert.equal(waiting.locked_until, null)
      assert.ok(waiting.next_attempt_at >= before + 100, 'at least half the back-off later')
      assert.match(waiting.last_error ?? '', /ECONNREFUSED/)
      assert.deepEqual(contexts, [{ phase: 'send', outboxId: id, attempts: 1, outcome: 'retry' }])
      // Not due yet: nothing is claimed.
      assert.deepEqual(await down.runOnce(), { sent: 0, dropped: 0, retried: 0, failed: 0 })

      const up = await startSmtpSink({ port })
      cleanups.push(() => up.close())
      await waitUntil(() => Date.now() > waiting.next_attempt_at, 'the next attempt')
      assert.deepEqual(await down.runOnce(), { sent: 1, dropped: 0, retried: 0, failed: 0 })
      assert.equal(up.received.length, 1)
      assert.equal(LINK_PATTERN.exec(parseRawMail(up.received[0]?.raw ?? '').text)?.[2], tokens.get(id))
      const sent = await row(id)
      assert.equal(sent.status, 'sent')
      assert.equal(sent.attempts, 2)
    })

    it('a wrong SMTP password is retried, and never written to the row or the error report', async () => {
      const { prepare } = tokenMinter()
      const reports: string[] = []
      const id = await queue('ann@example.com')
      const wrongPass = 'wrong-smtp-pass-77'
      const result = await worker({
        prepare,
        transport: transportTo(sink.url({ user: CREDENTIALS.user, pass: wrongPass })),
        onError: (error) => reports.push(`${(error as Error).message} ${(error as Error).stack}`),
      }).runOnce()
      assert.deepEqual(result, { sent: 0, dropped: 0, retried: 1, failed: 0 })
      const stored = await row(id)
      assert.equal(stored.status, 'pending')
      assert.match(stored.last_error ?? '', /^EAUTH: /)
      for (const text of [stored.last_error ?? '', ...reports]) assert.ok(!text.includes(wrongPass), text)
      assert.equal(sink.received.length, 0)
    })

    it('log lines name the row, never the recipient or the token; the default error report is one of them', async () => {
      const { tokens, prepare } = tokenMinter()
      const lines: { level: string; obj: object; msg: string }[] = []
      const log = {
        info: (obj: object, msg: string) => lines.push({ level: 'info', obj, msg }),
        warn: (obj: object, msg: string) => lines.push({ level: 'warn', obj, msg }),
      }
      const sentId = await queue('ann@example.com')
      await worker({ prepare, log, onError: undefined }).runOnce()
      const failedId = await queue('bob@example.com')
      const wrongPass = 'wrong-smtp-pass-91'
      await worker({
        prepare,
        log,
        onError: undefined,
        transport: transportTo(sink.url({ user: CREDENTIALS.user, pass: wrongPass })),
      }).runOnce()
      assert.deepEqual(
        lines.map((line) => [line.level, line.msg]),
        [
          ['info', 'mail sent'],
          ['warn', 'mail outbox error'],
        ],
      )
      assert.deepEqual(lines[0]?.obj, { outboxId: sentId, purpose: 'password-reset' })
      const warning = lines[1]?.obj as { outboxId?: number; error?: string } | undefined
      assert.equal(warning?.outboxId, failedId)
      assert.match(warning?.error ?? '', /^EAUTH: /)
      const logged = JSON.stringify(lines)
      for (const secret of [...tokens.values(), wrongPass, 'ann@example.com', 'bob@example.com']) {
        assert.ok(!logged.includes(secret), `${secret} in ${logged}`)
      }
    })

    it('nothing to send (prepare says null): the row is dropped and no mail goes', async () => {
      const id = await queue('nobody@example.com')
      const result = await worker({ prepare: async () => null }).runOnce()
      assert.deepEqual(result, { sent: 0, dropped: 1, retried: 0, failed: 0 })
      const stored = await row(id)
      assert.equal(stored.status, 'dropped')
      assert.ok(stored.finished_at)
      assert.equal(sink.received.length, 0)
    })

    it('a throwing prepare is retried with back-off and fails the row after maxAttempts', async () => {
      const contexts: OutboxErrorContext[] = []
      const id = await queue('ann@example.com')
      const failing = worker({
        prepare: async () => {
          throw new Error('domain is having a bad day')
        },
        maxAttempts: 2,
        onError: (_error, context) => contexts.push(context),
      })
      assert.deepEqual(await failing.runOnce(), { sent: 0, dropped: 0, retried: 1, failed: 0 })
      const first = await row(id)
      assert.equal(first.status, 'pending')
      assert.equal(first.last_error, 'domain is having a bad day')
      await waitUntil(() => Date.now() > first.next_attempt_at, 'the next attempt')
      assert.deepEqual(await failing.runOnce(), { sent: 0, dropped: 0, retried: 0, failed: 1 })
      assert.equal((await row(id)).status, 'failed')
      assert.deepEqual(contexts, [
        { phase: 'prepare', outboxId: id, attempts: 1, outcome: 'retry' },
        { phase: 'prepare', outboxId: id, attempts: 2, outcome: 'failed' },
      ])
      assert.equal(sink.received.length, 0)
    })

    it('a server that refuses the message for good fails the row at once, the token cut from the error', async () => {
      const { tokens, prepare } = tokenMinter()
      const refusing = await startSmtpSink({
        beforeAccept: async () => {
          // A server quoting the content back in its refusal, link included.
          const token = [...tokens.values()].at(-1)
          throw Object.assign(new Error(`Message rejected: spam link #token=${token}`), { responseCode: 554 })
        },
      })
      cleanups.push(() => refusing.close())
      const reports: string[] = []
      const id = await queue('ann@example.com')
      const result = await worker({
        prepare,
        transport: transportTo(refusing.url()),
        onError: (error) => reports.push((error as Error).message),
      }).runOnce()
      assert.deepEqual(result, { sent: 0, dropped: 0, retried: 0, failed: 1 })
      const stored = await row(id)
      assert.equal(stored.status, 'failed')
      assert.match(stored.last_error ?? '', /554/)
      const token = tokens.get(id) ?? '?'
      for (const text of [stored.last_error ?? '', ...reports]) {
        assert.ok(!text.includes(token), text)
        assert.match(text, /\[redacted\]/)
      }
    })

    it('two workers on two connections never send one row twice', async () => {
      if (!store) throw new Error('no store')
      for (let i = 0; i < 20; i++) await queue(`user${i}@example.com`)
      const other = openStore(store.url)
      cleanups.push(() => other.close())
      const { prepare } = tokenMinter()
      const workers = [worker({ prepare, batchSize: 3 }), worker({ prepare, batchSize: 3, db: other.db })]
      const drain = async (one: (typeof workers)[number]) => {
        let total = 0
        for (;;) {
          const { sent, retried, failed } = await one.runOnce()
          assert.equal(retried + failed, 0)
          if (sent === 0) return total
          total += sent
        }
      }
      const counts = await Promise.all(workers.map(drain))
      assert.equal(
        counts.reduce((a, b) => a + b, 0),
        20,
      )
      assert.equal(sink.received.length, 20)
      assert.equal(new Set(sink.received.map((m) => m.to[0])).size, 20)
      const statuses = await db().selectFrom('outbox').select(['status', 'attempts']).execute()
      assert.ok(statuses.every((r) => r.status === 'sent' && r.attempts === 1))
    })

    it('stop() waits for the send in flight, and starts no new batch', async () => {
      let release: () => void = () => {}
      const gate = new Promise<void>((resolve) => {
        release = resolve
      })
      let arrived = false
      const slow = await startSmtpSink({
        beforeAccept: async () => {
          arrived = true
          await gate
        },
      })
      cleanups.push(() => slow.close())
      // Should an assertion fail first, the held message is let go so the server can close.
      cleanups.push(() => release())
      const { prepare } = tokenMinter()
      const id = await queue('ann@example.com')
      const running = worker({ prepare, transport: transportTo(slow.url()) })
      running.start()
      await waitUntil(() => arrived, 'the message to reach the server')
      let stopped = false
      const stopping = running.stop().then(() => {
        stopped = true
      })
      await new Promise((resolve) => setTimeout(resolve, 150))
      assert.equal(stopped, false, 'stop() resolved while a send was in flight')
      assert.equal((await row(id)).status, 'pending')
      release()
      await stopping
      assert.equal((await row(id)).status, 'sent')
      // Stopped: a row queued now stays queued.
      const later = await queue('bob@example.com')
      running.wake()
      await new Promise((resolve) => setTimeout(resolve, 150))
      assert.equal((await row(later)).status, 'pending')
    })

    it('a database that fails the claim is reported and polled again until it is back', async () => {
      const { prepare } = tokenMinter()
      const contexts: OutboxErrorContext[] = []
      const id = await queue('ann@example.com')
      await sql`alter table outbox rename to outbox_away`.execute(db())
      let renamed = true
      cleanups.push(async () => {
        if (renamed) await sql`alter table outbox_away rename to outbox`.execute(db())
      })
      const running = worker({ prepare, onError: (_error, context) => contexts.push(context) })
      running.start()
      await waitUntil(() => contexts.length >= 3, 'three failed polls')
      assert.ok(contexts.every((context) => context.phase === 'claim'))
      await sql`alter table outbox_away rename to outbox`.execute(db())
      renamed = false
      await sink.waitFor(1)
      await waitUntil(async () => (await row(id)).status === 'sent', 'the row to be marked sent')
      await running.stop()
    })
  })
}
