/**
 * The whole server with real mail: a real SMTP server (test/mail/smtp-sink.ts) on 127.0.0.1 port
 * 0, and a test app (startTestApp) whose SMTP_URL points at it, so every mail the outbox worker
 * sends arrives here and a test can read the link a user would click. The sink can be stopped and
 * started again on the same port, to play an SMTP outage.
 */
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { type ParsedMail, parseRawMail } from '../mail/raw-mail.ts'
import { type ReceivedMail, type SmtpSink, startSmtpSink } from '../mail/smtp-sink.ts'
import type { TestDatabase } from './databases.ts'
import { startTestApp, type TestApp } from './test-app.ts'

/** Where the links in the mails point (the front end's reset and verification pages). */
export const APP_URL = 'https://app.gatehouse.test'
export const MAIL_FROM = 'Gatehouse <no-reply@gatehouse.test>'

/** Upper bound of a wait for a mail that should come: the worker sends at once when woken. */
export const MAIL_WAIT_MS = 5_000
/** How long a mail that must not come is waited for before concluding it did not. */
export const NO_MAIL_WAIT_MS = 1_500

export type LinkKind = 'reset' | 'verify'
const LINK_PATHS: Record<LinkKind, string> = { reset: '/reset-password', verify: '/verify-email' }
const TOKEN_PREFIXES: Record<LinkKind, string> = { reset: 'gthr_', verify: 'gthv_' }

export interface Mail extends ReceivedMail {
  parsed: ParsedMail
  subject: string
}

export interface MailApp extends TestApp {
  /** The port the sink listens on (kept across stopSink / startSink). */
  smtpPort: number
  /** Every mail received so far, by every sink this app had, in arrival order. */
  mails(): Mail[]
  /** Mails received for this address so far. */
  mailsTo(address: string): Mail[]
  /**
   * The oldest mail to `address` a test has not taken yet (nextMail or nextToken), taken now;
   * waits for it (at most `timeoutMs`) and fails the test when none comes.
   */
  nextMail(address: string, timeoutMs?: number): Promise<Mail>
  /**
   * Like nextMail, for the oldest untaken mail to `address` with a `kind` link (other mails stay
   * untaken): the token of that link, its shape asserted.
   */
  nextToken(address: string, kind: LinkKind, timeoutMs?: number): Promise<string>
  /** Like nextToken, returning the whole mail. */
  nextLinkMail(address: string, kind: LinkKind, timeoutMs?: number): Promise<Mail>
  /** Waits `waitMs`, then fails the test when any mail to `address` is still untaken. */
  assertNoMail(address: string, waitMs?: number): Promise<void>
  /** Stops the SMTP server: sends fail with a refused connection until startSink(). */
  stopSink(): Promise<void>
  /** Starts an SMTP server again on the same port. */
  startSink(): Promise<void>
}

export interface MailAppOptions {
  create: () => Promise<TestDatabase>
  /**
   * Environment on top of the mail defaults. MAIL_REQUESTS_PER_EMAIL and MAIL_REQUESTS_PER_IP are
   * off (0) unless given here: every inject() comes from one address, and suites mail one user
   * far more than an hour's quota.
   */
  env?: Record<string, string>
}

const normalize = (address: string) => address.trim().toLowerCase()

function toMail(received: ReceivedMail): Mail {
  const parsed = parseRawMail(received.raw)
  return { ...received, parsed, subject: parsed.headers.get('subject') ?? '' }
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** The token of the `kind` link in a mail's text part; fails the test when there is none. */
export function tokenFromMail(mail: Mail, kind: LinkKind): string {
  const pattern = new RegExp(`${escapeRegExp(APP_URL + LINK_PATHS[kind])}#token=([^\\s"<>]+)`)
  const match = pattern.exec(mail.parsed.text)
  assert.ok(match?.[1], `no ${APP_URL}${LINK_PATHS[kind]}#token= link in the mail: ${mail.parsed.text}`)
  const token = decodeURIComponent(match[1])
  assert.ok(
    token.startsWith(TOKEN_PREFIXES[kind]),
    `a ${kind} token starts ${TOKEN_PREFIXES[kind]}: ${token}`,
  )
  assert.ok(mail.parsed.html.includes(`#token=${match[1]}`), 'the HTML part carries the same link')
  return token
}

export interface OutboxState {
  purpose: string
  status: string
  attempts: number
  last_error: string | null
}

/**
 * Polls the outbox until a row for `recipient` satisfies `done` (at most `timeoutMs`): proof the
 * worker got to it, before a test concludes that no mail came.
 */
export async function waitForOutbox(
  t: TestApp,
  recipient: string,
  done: (row: OutboxState) => boolean,
  what: string,
  timeoutMs = MAIL_WAIT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const rows = await t.store.db
      .selectFrom('outbox')
      .select(['purpose', 'status', 'attempts', 'last_error'])
      .where('recipient', '=', recipient)
      .execute()
    if (rows.some((row) => done({ ...row, attempts: Number(row.attempts) }))) return
    if (Date.now() > deadline) assert.fail(`no outbox row for ${recipient} ${what}: ${JSON.stringify(rows)}`)
    await sleep(25)
  }
}

export async function startMailApp(options: MailAppOptions): Promise<MailApp> {
  let sink: SmtpSink | null = await startSmtpSink()
  const smtpPort = sink.port
  /** Every sink this app had: a stopped one's mails still count. */
  const sinks: SmtpSink[] = [sink]
  /** Which mails to each address (by index among that address's mails) a test has taken. */
  const taken = new Map<string, Set<number>>()

  let app: TestApp
  try {
    app = await startTestApp({
      create: options.create,
      env: {
        SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
        APP_URL,
        MAIL_FROM,
        MAIL_REQUESTS_PER_EMAIL: '0',
        MAIL_REQUESTS_PER_IP: '0',
        ...options.env,
      },
    })
  } catch (error) {
    await sink.close()
    throw error
  }

  const mails = () => sinks.flatMap((each) => each.received).map(toMail)
  const mailsTo = (address: string) =>
    mails().filter((mail) => mail.to.some((to) => normalize(to) === normalize(address)))

  /** The first mail to `address` not yet taken that `accepts`, taken; waits at most `timeoutMs`. */
  async function take(address: string, accepts: (mail: Mail) => boolean, what: string, timeoutMs: number) {
    const key = normalize(address)
    const seen = taken.get(key) ?? new Set<number>()
    taken.set(key, seen)
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const list = mailsTo(address)
      const index = list.findIndex((mail, i) => !seen.has(i) && accepts(mail))
      if (index >= 0) {
        seen.add(index)
        return list[index] as Mail
      }
      if (Date.now() > deadline) {
        assert.fail(
          `no ${what} to ${address} within ${timeoutMs} ms (${list.length} to it, ${seen.size} taken)`,
        )
      }
      await sleep(20)
    }
  }

  const nextMail = (address: string, timeoutMs = MAIL_WAIT_MS) =>
    take(address, () => true, 'further mail', timeoutMs)

  const nextLinkMail = (address: string, kind: LinkKind, timeoutMs = MAIL_WAIT_MS) => {
    const link = `${APP_URL}${LINK_PATHS[kind]}#token=`
    return take(address, (mail) => mail.parsed.text.includes(link), `mail with a ${kind} link`, timeoutMs)
  }

  let closed: Promise<void> | undefined
  return {
    ...app,
    smtpPort,
    mails,
    mailsTo,
    nextMail,
    nextLinkMail,
    async nextToken(address, kind, timeoutMs) {
      return tokenFromMail(await nextLinkMail(address, kind, timeoutMs), kind)
    },
    async assertNoMail(address, waitMs = NO_MAIL_WAIT_MS) {
      await sleep(waitMs)
      const seen = taken.get(normalize(address)) ?? new Set<number>()
      const extra = mailsTo(address).filter((_, index) => !seen.has(index))
      assert.deepEqual(
        extra.map((mail) => mail.subject),
        [],
        `no further mail to ${address}`,
      )
    },
    async stopSink() {
      if (!sink) return
      const stopping = sink
      sink = null
      await stopping.close()
    },
    async startSink() {
      if (sink) return
      sink = await startSmtpSink({ port: smtpPort })
      sinks.push(sink)
    },
    close: () =>
      (closed ??= (async () => {
        try {
          // The app first: its worker finishes the send in flight before the sink goes away.
          await app.close()
        } finally {
          await sink?.close()
          sink = null
        }
      })()),
  }
}
