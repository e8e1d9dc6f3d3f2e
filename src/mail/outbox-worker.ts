import type { Kysely } from 'kysely'
import type { PreparedMail } from '../accounts/outbox.ts'
import type { Database, Dialect } from '../store/schema.ts'
import { isStoreUnavailable } from '../store/store-errors.ts'
import { type Backoff, DEFAULT_BACKOFF, retryDelayMs } from './backoff.ts'
import { MailSendError, summarizeError } from './mail-error.ts'
import type { MailTransport } from './mail-transport.ts'
import {
  claimDueMail,
  DEFAULT_MAX_ATTEMPTS,
  markDropped,
  markFailed,
  markRetry,
  markSent,
  type OutboxRow,
} from './outbox-queue.ts'
import { normalizeAppUrl, renderMail } from './templates.ts'

export interface WorkerLog {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
}

export type OutboxErrorContext =
  | { phase: 'claim' }
  | {
      phase: 'prepare' | 'render' | 'send' | 'mark'
      outboxId: number
      attempts: number
      /** What became of the row: tried again later, given up, or (a failed mark) left to its lease. */
      outcome: 'retry' | 'failed' | 'lease'
    }

export interface OutboxWorkerOptions {
  db: Kysely<Database>
  dialect: Dialect
  /**
   * Resolves a row into the mail to send, minting its token, or null when there is nothing to
   * send (no such account, already verified…). A throw is retried like a failed send.
   */
  prepare: (row: OutboxRow) => Promise<PreparedMail | null>
  /** Not closed by the worker: whoever made it closes it after `stop()`. */
  transport: MailTransport
  appUrl: string
  productName?: string
  supportEmail?: string
  pollIntervalMs?: number
  batchSize?: number
  /**
   * How long a claim holds a row. It must outlast the slowest prepare and send of a batch (the
   * SMTP transport gives up after one minute), or another worker could send the row again.
   */
  leaseMs?: number
  maxAttempts?: number
  backoff?: Partial<Backoff>
  /** Every failure: a claim (database down), a row's prepare, render, send or mark. Must not throw. */
  onError?: (error: unknown, context: OutboxErrorContext) => void
  log?: WorkerLog
}

export interface RunResult {
  sent: number
  dropped: number
  retried: number
  failed: number
}

export interface OutboxWorker {
  /** Polls until `stop()`; the first run is at once. */
  start(): void
  /** No new batch starts; resolves once every batch in flight has settled. */
  stop(): Promise<void>
  /** One claim and delivery of due rows. Rejects only when the claim itself fails. */
  runOnce(): Promise<RunResult>
  /** Runs soon instead of at the next poll, e.g. right after a mail was queued. */
  wake(): void
}

type Outcome = keyof RunResult | 'lost'

export function createOutboxWorker(options: OutboxWorkerOptions): OutboxWorker {
  const { db, dialect, prepare, transport, log } = options
  // Checked here so a wrong APP_URL stops the server at startup, not the first mail.
  const renderOptions = {
    appUrl: normalizeAppUrl(options.appUrl),
    ...(options.productName ? { productName: options.productName } : {}),
    ...(options.supportEmail ? { supportEmail: options.supportEmail } : {}),
  }
  const pollIntervalMs = options.pollIntervalMs ?? 1_000
  const batchSize = options.batchSize ?? 10
  const leaseMs = options.leaseMs ?? 5 * 60_000
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS
  const backoff = { ...DEFAULT_BACKOFF, ...options.backoff }
  const onError =
    options.onError ??
    ((error: unknown, context: OutboxErrorContext) =>
      log?.warn({ ...context, error: summarizeError(error) }, 'mail outbox error'))

  function report(error: unknown, context: OutboxErrorContext): void {
    try {
      onError(error, context)
    } catch {
      // A failing error hook must not take the worker (or the process) down with it.
    }
  }

  /** A retry or give-up for a row whose prepare, render or send failed. */
  async function fail(
    row: OutboxRow,
    phase: 'prepare' | 'render' | 'send',
    error: unknown,
    token: string | undefined,
  ): Promise<Outcome> {
    // The token is in memory only; should a server echo the link in its refusal, cut it out.
    const summary = summarizeError(error, token ? [token] : [])
    const reported =
      phase === 'prepare'
        ? error
        : new MailSendError(summary, {
            ...(error instanceof MailSendError && error.code ? { code: error.code } : {}),
            permanent: error instanceof MailSendError && error.permanent,
          })
    const now = Date.now()
    let status: string | null
    try {
      if (reported instanceof MailSendError && reported.permanent) {
        await markFailed(db, row.id, { error: summary, now })
        status = 'failed'
      } else {
        const nextAttemptAt = now + retryDelayMs(row.attempts, backoff)
        status = await markRetry(db, row.id, { error: summary, nextAttemptAt, now, maxAttempts })
      }
    } catch (markError) {
      report(reported, { phase, outboxId: row.id, attempts: row.attempts, outcome: 'lease' })
      report(markError, { phase: 'mark', outboxId: row.id, attempts: row.attempts, outcome: 'lease' })
      return 'lost'
    }
    const outcome = status === 'failed' ? 'failed' : 'retry'
    report(reported, { phase, outboxId: row.id, attempts: row.attempts, outcome })
    if (status === null) return 'lost'
    return outcome === 'failed' ? 'failed' : 'retried'
  }

  async function deliver(row: OutboxRow): Promise<Outcome> {
    let prepared: PreparedMail | null
    try {
      prepared = await prepare(row)
    } catch (error) {
      return fail(row, 'prepare', error, undefined)
    }
    try {
      if (!prepared) {
        await markDropped(db, row.id, Date.now())
        log?.info({ outboxId: row.id, purpose: row.purpose }, 'mail dropped')
        return 'dropped'
      }
    } catch (error) {
      report(error, { phase: 'mark', outboxId: row.id, attempts: row.attempts, outcome: 'lease' })
      return 'lost'
    }
    let content: ReturnType<typeof renderMail>
    try {
      content = renderMail(prepared, renderOptions)
    } catch (error) {
      return fail(row, 'render', error, prepared.token)
    }
    try {
      await transport.send({ to: prepared.to, ...content })
    } catch (error) {
      return fail(row, 'send', error, prepared.token)
    }
    try {
      await markSent(db, row.id, Date.now())
    } catch (error) {
      // Sent but not recorded: once the lease ends the row goes again. A duplicate mail is the
      // lesser harm next to a lost one.
      report(error, { phase: 'mark', outboxId: row.id, attempts: row.attempts, outcome: 'lease' })
    }
    log?.info({ outboxId: row.id, purpose: row.purpose }, 'mail sent')
    return 'sent'
  }

  async function batch(): Promise<{ claimed: number; result: RunResult }> {
    const rows = await claimDueMail(db, dialect, { limit: batchSize, leaseMs, now: Date.now() })
    // All at once: each row's time is bounded by one send, so every row settles within its lease.
    const outcomes = await Promise.all(rows.map(deliver))
    const result: RunResult = { sent: 0, dropped: 0, retried: 0, failed: 0 }
    for (const outcome of outcomes) if (outcome !== 'lost') result[outcome]++
    return { claimed: rows.length, result }
  }

  const inFlight = new Set<Promise<unknown>>()
  function track<T>(promise: Promise<T>): Promise<T> {
    inFlight.add(promise)
    const forget = () => inFlight.delete(promise)
    promise.then(forget, forget)
    return promise
  }

  let running = false
  let timer: NodeJS.Timeout | undefined
  let looping = false
  let wakeRequested = false
  let storeDown = false

  function schedule(delayMs: number): void {
    if (!running) return
    if (timer) clearTimeout(timer)
    timer = setTimeout(tick, delayMs)
    // The worker never keeps the process alive on its own.
    timer.unref()
  }

  function tick(): void {
    timer = undefined
    if (!running || looping) return
    looping = true
    wakeRequested = false
    track(batch()).then(
      // A full batch means more may be due: go again at once instead of waiting a poll.
      ({ claimed }) => {
        if (storeDown) log?.info({}, 'mail outbox: the database answers again')
        storeDown = false
        next(claimed >= batchSize ? 0 : pollIntervalMs)
      },
      (error: unknown) => {
        // A database outage is reported once, not at every poll while it lasts.
        const unavailable = isStoreUnavailable(error)
        if (!(unavailable && storeDown)) report(error, { phase: 'claim' })
        storeDown = unavailable
        next(pollIntervalMs)
      },
    )
  }

  function next(delayMs: number): void {
    looping = false
    schedule(wakeRequested ? 0 : delayMs)
  }

  return {
    start() {
      if (running) return
      running = true
      schedule(0)
    },
    async stop() {
      running = false
      if (timer) clearTimeout(timer)
      timer = undefined
      await Promise.allSettled([...inFlight])
    },
    async runOnce() {
      return (await track(batch())).result
    },
    wake() {
      if (!running) return
      if (looping) wakeRequested = true
      else schedule(0)
    },
  }
}
