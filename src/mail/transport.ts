import { createFileTransport } from './file-transport.ts'
import type { MailLog, MailTransport } from './mail-transport.ts'
import { createSmtpTransport, DEFAULT_SMTP_TIMEOUTS, type SmtpTimeouts } from './smtp-transport.ts'

export type { MailLog, MailTransport, OutgoingMail } from './mail-transport.ts'

export interface MailTransportOptions {
  /** `smtp://user:pass@host:port` or `smtps://…`; null writes .eml files instead (development). */
  smtpUrl: string | null
  /** The From header, e.g. `Gatehouse <no-reply@example.com>`. */
  from: string
  /** Where development mail is written; `./data/outbox` by default. */
  outboxDir?: string
  log?: MailLog
  /** SMTP only; the defaults bound a send to one minute. */
  timeouts?: Partial<SmtpTimeouts>
}

export function createMailTransport(options: MailTransportOptions): MailTransport {
  if (options.smtpUrl) {
    return createSmtpTransport(options.smtpUrl, options.from, {
      ...DEFAULT_SMTP_TIMEOUTS,
      ...options.timeouts,
    })
  }
  return createFileTransport(options.from, options.outboxDir, options.log)
}
